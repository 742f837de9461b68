using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

public class SolverTests
{
    private const double SigmaMax = 20, SigmaMin = 0.05;

    private static GaussianMixtureDenoiser SingleGaussian(Backend b, float mean = 0.7f, double std = 0.5) =>
        new(b, [1, 2, 2], [1.0], [[mean]], [std]);

    /// <summary>The probability-flow ODE of N(μ, s²I) has the closed form x(σ) − μ = (x(σ_T) − μ)·√((s² + σ²)/(s² + σ_T²)).</summary>
    private static float[] ExactOde(float[] xT, float mean, double std, double from, double to) =>
        xT.Select(v => (float)(mean + (v - mean) * Math.Sqrt((std * std + to * to) / (std * std + from * from)))).ToArray();

    private static float[] Run(Backend b, IDenoiser d, Solver solver, float[] xT, double[] sigmas, SamplerOptions? options = null)
    {
        using var x = b.Upload(xT, new Shape([xT.Length / 4, 1, 2, 2]));
        using var ctx = new SamplerContext(d, x, options ?? new SamplerOptions());
        solver.Sample(x, sigmas, ctx);
        return x.ToArray();
    }

    [TestCase("euler", 1)]
    [TestCase("heun", 2)]
    [TestCase("dpmpp_2m", 2)]
    [TestCase("ddim", 1)]
    public void DeterministicSolversConvergeWithTheirOrder(string name, int order)
    {
        var b = TestBackends.Cpu;
        using var d = SingleGaussian(b);
        var xT = TestData.Normal(4 * 8, 5, (float)SigmaMax).Select(v => v + 0.7f).ToArray();
        var exact = ExactOde(xT, 0.7f, 0.5, SigmaMax, SigmaMin);
        var steps = new[] { 16, 32, 64, 128 };
        var errors = steps.Select(n =>
        {
            var y = Run(b, d, SamplerRegistry.Get(name), xT, SigmaGrids.Karras(n, SigmaMin, SigmaMax, appendZero: false));
            return y.Zip(exact, (p, q) => Math.Abs((double)p - q)).Max();
        }).ToArray();
        // Least-squares slope of log error against log steps.
        var lx = steps.Select(n => Math.Log(n)).ToArray();
        var ly = errors.Select(e => Math.Log(e)).ToArray();
        double mx = lx.Average(), my = ly.Average();
        double slope = lx.Zip(ly, (p, q) => (p - mx) * (q - my)).Sum() / lx.Sum(p => (p - mx) * (p - mx));
        Assert.That(-slope, Is.EqualTo(order).Within(0.3), $"errors {string.Join(", ", errors.Select(e => e.ToString("E2")))}");
    }

    [TestCase("euler_ancestral")]
    [TestCase("ddpm")]
    [TestCase("dpmpp_2m_sde")]
    public void StochasticSamplersSampleTheMixture(string name)
    {
        var b = TestBackends.Cpu;
        using var d = new GaussianMixtureDenoiser(b, [1, 2, 2], [0.3, 0.7], [[-2f], [1.5f]], [0.4, 0.6]);
        int n = 4096;
        var xT = TestData.Normal(n * 4, 9, (float)SigmaMax);
        var y = Run(b, d, SamplerRegistry.Get(name), xT, SigmaGrids.Karras(200, 0.002, SigmaMax), new SamplerOptions { Seed = 3 });
        MixtureAssert.MatchesTheMixture(y, n, 4);
    }


    [Test]
    public void BatchSplitDoesNotChangeSamples()
    {
        var b = TestBackends.Cpu;
        using var d = new GaussianMixtureDenoiser(b, [1, 2, 2], [0.5, 0.5], [[-1f], [1f]], [0.3, 0.3]);
        var xT = TestData.Normal(4 * 4, 2, (float)SigmaMax);
        var sigmas = SigmaGrids.Karras(10, 0.01, SigmaMax);
        var whole = Run(b, d, new EulerAncestral(), xT, sigmas, new SamplerOptions { Seed = 7 });
        var tail = Run(b, d, new EulerAncestral(), xT[8..], sigmas, new SamplerOptions { Seed = 7, FirstSampleIndex = 2 });
        Close.Identical(whole.AsSpan(8), tail, "samples 2-3");
    }

    [TestCase("euler")]
    [TestCase("heun")]
    [TestCase("euler_ancestral")]
    [TestCase("dpmpp_2m")]
    [TestCase("dpmpp_2m_sde")]
    public void CpuAndIlgpuAgree(string name)
    {
        var xT = TestData.Normal(2 * 4, 4, (float)SigmaMax);
        var sigmas = SigmaGrids.Karras(4, 0.01, SigmaMax);
        float[] Sample(Backend b)
        {
            using var d = new GaussianMixtureDenoiser(b, [1, 2, 2], [0.4, 0.6], [[-1f], [1f]], [0.3, 0.5]);
            return Run(b, d, SamplerRegistry.Get(name), xT, sigmas, new SamplerOptions { Seed = 1 });
        }
        Close.Assert(Sample(TestBackends.Cpu), Sample(TestBackends.IlgpuCpu), 1e-5, name);
    }

    [Test]
    public void BadOptionsAreClearErrors()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => SamplerRegistry.Get("dpm_fast"))!.Message, Does.Contain("dpm_fast").And.Contain("euler"));
        Assert.Throws<ArgumentOutOfRangeException>(() => SigmaGrids.Karras(0, 0.1, 10));
        var b = TestBackends.Cpu;
        using var d = SingleGaussian(b);
        var e = Assert.Throws<SolverSettingException>(() => new Heun().With("eta", 0.5))!;
        Assert.That(e.Message, Does.Contain("heun").And.Contain("η"));
    }

    [Test]
    public void NaNStopsTheRunNamingTheStep()
    {
        var b = TestBackends.Cpu;
        using var d = SingleGaussian(b);
        var xT = new float[4];
        xT[2] = float.NaN;
        var e = Assert.Throws<NumericalInstabilityException>(() => Run(b, d, SamplerRegistry.Get("euler"), xT, SigmaGrids.Karras(3, 0.1, 10)))!;
        Assert.That(e.Message, Does.Contain("step 1 of 3"));
    }

    [Test]
    public void CallbackSeesEveryStepAndCancellationStops()
    {
        var b = TestBackends.Cpu;
        using var d = SingleGaussian(b);
        var seen = new List<StepInfo>();
        Run(b, d, new Heun(), new float[4], SigmaGrids.Karras(5, 0.1, 10), new SamplerOptions { Callback = seen.Add });
        Assert.That(seen.Select(s => s.Step), Is.EqualTo(new[] { 0, 1, 2, 3, 4 }));
        Assert.That(seen[^1].Evaluations, Is.EqualTo(9), "Heun: 2 evaluations per step, 1 on the final step to σ = 0");
        using var cts = new CancellationTokenSource();
        Assert.Throws<OperationCanceledException>(() => Run(b, d, SamplerRegistry.Get("euler"), new float[4], SigmaGrids.Karras(5, 0.1, 10),
            new SamplerOptions { Cancellation = cts.Token, Callback = s => { if (s.Step == 1) cts.Cancel(); } }));
    }
}

public class DormandPrinceTests
{
    [TestCase(1e-4)]
    [TestCase(1e-7)]
    public void AdaptiveRk45MeetsItsTolerance(double rtol)
    {
        var b = TestBackends.Cpu;
        using var d = new GaussianMixtureDenoiser(b, [1, 2, 2], [1.0], [[0.7f]], [0.5]);
        var xT = TestData.Normal(4 * 8, 5, 20f).Select(v => v + 0.7f).ToArray();
        using var x = b.Upload(xT, new Shape(8, 1, 2, 2));
        using (var ctx = new SamplerContext(d, x, new SamplerOptions()))
            new DormandPrince45 { Rtol = rtol, Atol = rtol }.Sample(x, [20.0, 0.05], ctx);
        var exact = xT.Select(v => 0.7 + (v - 0.7) * Math.Sqrt((0.25 + 0.05 * 0.05) / (0.25 + 400))).ToArray();
        double error = x.ToArray().Zip(exact, (p, q) => Math.Abs(p - q)).Max();
        Assert.That(error, Is.LessThan(Math.Max(100 * rtol, 2e-6)), $"NFE {d.Evaluations}");
        Assert.That(d.Evaluations, Is.GreaterThan(6));
    }
}

public class SolverOptionTests
{
    [Test]
    public void HeunWithChurnStillSamplesTheMixture()
    {
        var b = TestBackends.Cpu;
        using var d = new GaussianMixtureDenoiser(b, [1, 2, 2], [0.3, 0.7], [[-2f], [1.5f]], [0.4, 0.6]);
        int n = 4096;
        using var x = b.Upload(TestData.Normal(n * 4, 9, 20f), new Shape(n, 1, 2, 2));
        using (var ctx = new SamplerContext(d, x, new SamplerOptions { Seed = 4 }))
            new Heun { SChurn = 40, STmin = 0.05, STmax = 10 }.Sample(x, SigmaGrids.Karras(60, 0.002, 20), ctx);
        var y = x.ToArray();
        var avg = Enumerable.Range(0, n).Select(i => y.Skip(4 * i).Take(4).Average()).ToArray();
        double first = avg.Count(a => a < -0.25) / (double)n;
        Assert.That(first, Is.EqualTo(0.3).Within(3 * Math.Sqrt(0.3 * 0.7 / n) + 0.005));
        var pixels = Enumerable.Range(0, n).Where(i => avg[i] >= -0.25).SelectMany(i => y.Skip(4 * i).Take(4)).ToArray();
        double m = pixels.Average();
        Assert.That(m, Is.EqualTo(1.5).Within(0.05));
        Assert.That(Math.Sqrt(pixels.Sum(v => (v - m) * (v - m)) / pixels.Length), Is.EqualTo(0.6).Within(0.04));
    }

    [Test]
    public void ClipSampleKeepsTheEstimateInRange()
    {
        var b = TestBackends.Cpu;
        using var gmm = new GaussianMixtureDenoiser(b, [1, 2, 2], [1.0], [[3f]], [0.1]);
        var clipped = new ClippedDenoiser(gmm, 1f);
        using var x = b.Upload(TestData.Normal(8, 1, 5f), new Shape(2, 1, 2, 2));
        using var den = b.Allocate(x.Shape);
        clipped.Denoise(x, 2.0, den);
        Assert.That(den.ToArray(), Is.All.InRange(-1f, 1f));
        Assert.That(den.ToArray().Max(), Is.EqualTo(1f), "the mixture sits at 3, so the estimate is clipped at the bound");
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ClippedDenoiser(gmm, 0f));
    }
}
