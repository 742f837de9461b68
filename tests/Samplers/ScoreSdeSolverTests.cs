using System.Diagnostics;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

public class ScoreSdeSolverTests
{
    /// <summary>The grid each sampler is tested on: the continuous schedule's own for Euler–Maruyama, log-uniform levels otherwise.</summary>
    private static double[] Grid(string name, int steps) => name switch
    {
        "sde_em_vp" => new VpSchedule().Sigmas(steps),
        "sde_em_subvp" => new SubVpSchedule().Sigmas(steps),
        "sde_em_ve" => new VeSchedule(0.01, 50).Sigmas(steps),
        _ => SigmaGrids.Exponential(steps, 0.01, 50),
    };

    private static float[] Run(Backend b, IDenoiser d, string name, float[] noise, int[] shape, double[] sigmas, SamplerOptions options) =>
        Run(b, d, SamplerRegistry.Get(name), noise, shape, sigmas, options);

    private static float[] Run(Backend b, IDenoiser d, Solver solver, float[] noise, int[] shape, double[] sigmas, SamplerOptions options)
    {
        using var x = b.Upload(noise.Select(v => (float)(v * sigmas[0])).ToArray(), new Shape([noise.Length / shape.Aggregate(1, (p, q) => p * q), .. shape]));
        using var ctx = new SamplerContext(d, x, options);
        solver.Sample(x, sigmas, ctx);
        return x.ToArray();
    }

    /// <summary>The sampler with <paramref name="setting"/> at <paramref name="value"/> where it takes it.</summary>
    private static Solver Where(string name, string setting, object value)
    {
        var solver = SamplerRegistry.Get(name);
        return solver.Takes(setting) ? solver.With(setting, value) : solver;
    }

    // Steps per sampler: enough for the moments to be within the tolerances, few enough for a few seconds on 2 cores.
    // The corrector's SNR-scaled step depends on x and z, which widens its stationary law by ≈(1 + 2/d) in variance
    // per dependence (measured: std +13% at d = 16): the PC tests use d = 64 so that this stays within the tolerance.
    // Annealed Langevin with T = 5 needs fine levels (300) to track the annealed law (150 levels: std +7%).
    [TestCase("sde_em_vp", 400, 4)]
    [TestCase("sde_em_subvp", 400, 4)]
    [TestCase("sde_em_ve", 400, 4)]
    [TestCase("pc_ve", 150, 64)]
    [TestCase("pc_vp", 150, 64)]
    [TestCase("annealed_langevin", 300, 16)]
    public void SamplesTheMixture(string name, int steps, int pixels)
    {
        var b = TestBackends.Cpu;
        int side = (int)Math.Sqrt(pixels);
        int[] shape = [1, side, side];
        using var d = new GaussianMixtureDenoiser(b, shape, [0.3, 0.7], [[-2f], [1.5f]], [0.4, 0.6]);
        int n = 4096;
        var clock = Stopwatch.StartNew();
        var y = Run(b, d, name, TestData.Normal(n * pixels, 9, 1f), shape, Grid(name, steps), new SamplerOptions { Seed = 3 });
        TestContext.Out.WriteLine($"{name}: {clock.Elapsed.TotalSeconds:F1} s, NFE {d.Evaluations}");
        MixtureAssert.MatchesTheMixture(y, n, pixels);
    }


    private static readonly string[] Names = ["sde_em_vp", "sde_em_subvp", "sde_em_ve", "pc_ve", "pc_vp", "annealed_langevin"];

    [TestCaseSource(nameof(Names))]
    public void CpuAndIlgpuAgree(string name)
    {
        var noise = TestData.Normal(2 * 4, 4, 1f);
        var sigmas = Grid(name, 4);
        float[] Sample(Backend b)
        {
            using var d = new GaussianMixtureDenoiser(b, [1, 2, 2], [0.4, 0.6], [[-1f], [1f]], [0.3, 0.5]);
            return Run(b, d, Where(name, "langevin_steps", 2), noise, [1, 2, 2], sigmas, new SamplerOptions { Seed = 1 });
        }
        Close.Assert(Sample(TestBackends.Cpu), Sample(TestBackends.IlgpuCpu), 1e-5, name);
    }

    [TestCaseSource(nameof(Names))]
    public void BatchSplitDoesNotChangeSamples(string name)
    {
        var b = TestBackends.Cpu;
        using var d = new GaussianMixtureDenoiser(b, [1, 2, 2], [0.5, 0.5], [[-1f], [1f]], [0.3, 0.3]);
        var noise = TestData.Normal(4 * 4, 2, 1f);
        var sigmas = Grid(name, 6);
        var solver = Where(name, "corrector_steps", 2);
        var whole = Run(b, d, solver, noise, [1, 2, 2], sigmas, new SamplerOptions { Seed = 7 });
        var tail = Run(b, d, solver, noise[8..], [1, 2, 2], sigmas, new SamplerOptions { Seed = 7, FirstSampleIndex = 2 });
        Close.Identical(whole.AsSpan(8), tail, "samples 2-3");
        Assert.That(whole[..8], Is.Not.EqualTo(whole[8..]));
    }

    [Test]
    public void VeEulerMaruyamaIsTheClosedFormStep()
    {
        // One VE step in σ-space, by hand: x′ = x + 2·log(σ/σ′)(x̂₀ − x) + σ√(2·log(σ/σ′))·z, then a final x̂₀.
        var b = TestBackends.Cpu;
        using var d = new GaussianMixtureDenoiser(b, [1, 2, 2], [1.0], [[0.5f]], [0.2]);
        var x0 = new float[] { 3f, -1f, 0.2f, 2f };
        double s = 2, next = 1.5;
        using var x = b.Upload(x0, new Shape(1, 1, 2, 2));
        using (var ctx = new SamplerContext(d, x, new SamplerOptions { Seed = 5 }))
            new ScoreSdeEulerMaruyama(new VeSchedule(0.01, 50)).Sample(x, [s, next, 1.0], ctx);
        using var z = b.Allocate(new Shape(1, 1, 2, 2));
        b.RandomNormal(z, 5, 0, (ulong)4); // step 0's noise: offset (0 + 1)·per-sample size
        double k = 2 * Math.Log(s / next), v = 0.04;
        var expected = x0.Zip(z.ToArray(), (xi, zi) => (xi + k * ((v * xi + s * s * 0.5) / (v + s * s) - xi) + s * Math.Sqrt(k) * zi))
            .Select(xi => (float)(xi + 2 * Math.Log(next / 1.0) * ((v * xi + next * next * 0.5) / (v + next * next) - xi))).ToArray();
        Close.Assert(expected, x.ToArray(), 1e-5, "two VE steps, the last without noise");
    }

    [Test]
    public void OptionsAreChecked()
    {
        var b = TestBackends.Cpu;
        using var d = new GaussianMixtureDenoiser(b, [1, 2, 2], [1.0], [[0f]], [1.0]);
        Assert.Throws<SolverSettingException>(() => _ = new PredictorCorrector(variancePreserving: false) { CorrectorSteps = -1 });
        Assert.Throws<SolverSettingException>(() => SamplerRegistry.Get("annealed_langevin").With("langevin_steps", 0));
        Assert.Throws<SolverSettingException>(() => SamplerRegistry.Get("sde_em_vp").With("eta", 1.0));
        // Annealed Langevin: T evaluations per level plus the final denoise.
        Run(b, d, new AnnealedLangevin { LangevinSteps = 3 }, new float[4], [1, 2, 2], [2.0, 1.0, 0], new SamplerOptions());
        Assert.That(d.Evaluations, Is.EqualTo(2 * 3 + 1));
    }
}
