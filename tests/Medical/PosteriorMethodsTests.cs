using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

/// <summary>
/// The stronger posterior samplers on small phantoms with an exact prior: a Gaussian mixture whose components are
/// 16×16 head phantoms (std 0.05), so the right answer is known: the component the measurement came from.
/// </summary>
public class PosteriorMethodsTests
{
    private const int Size = 16;

    private static (GaussianMixtureDenoiser Prior, float[] Truth) PhantomMixture(Backend b, int components, int samples)
    {
        var means = Enumerable.Range(0, components).Select(k => HeadPhantom.Generate(Size, 0, 100 + k, (LesionSpec?)null).Image.Select(v => 2 * v - 1).ToArray()).ToArray();
        var prior = new GaussianMixtureDenoiser(b, [1, Size, Size], Enumerable.Repeat(1.0, components).ToArray(), means, Enumerable.Repeat(0.05, components).ToArray());
        return (prior, prior.SampleData(samples, 3));
    }

    private static IEnumerable<TestCaseData> Samplers()
    {
        yield return new TestCaseData((Func<IPosteriorSampler>)(() => new DdnmSampler(new EulerAncestral())), 20).SetName("DDNM euler_a");
        yield return new TestCaseData((Func<IPosteriorSampler>)(() => new TimeTravelSampler(new TimeTravel(4, 3))), 20).SetName("DDNM time travel");
        yield return new TestCaseData((Func<IPosteriorSampler>)(() => new PredictorCorrectorSampler(new ScoreMriPc(0.16, 1))), 20).SetName("score-MRI predictor-corrector");
    }

    [TestCaseSource(nameof(Samplers))]
    public void Samplers_recover_the_component_and_leave_the_output_data_consistent(Func<IPosteriorSampler> make, int steps)
    {
        var b = TestBackends.Cpu;
        var (prior, truth) = PhantomMixture(b, 3, 4);
        using var _ = prior;
        var sampler = make();
        var shape = new Shape(4, 1, Size, Size);
        using var op = new CartesianMri(b, MriMasks.Random(Size, Size, 4, 2, 0.125), new Shape(Size, Size));
        using var xt = b.Upload(truth, shape);
        using var y = b.Allocate(op.MeasurementShape(shape));
        op.Forward(xt, y);
        using var dc = new DataConsistencyDenoiser(prior, op, y);
        using var x = b.Allocate(shape);
        b.RandomNormal(x, 9);
        var sigmas = SigmaGrids.Karras(steps, prior.SigmaMin, prior.SigmaMax);
        b.Scale(x, (float)sigmas[0], x);
        int before = prior.Evaluations;
        using (var ctx = new SamplerContext(dc, x, new SamplerOptions { Seed = 4 })) sampler.Sample(x, dc, sigmas, ctx);
        Assert.That(prior.Evaluations - before, Is.EqualTo(sampler.Evaluations(steps)), "NFE as stated");
        var result = x.ToArray();
        // Data consistent to fp32: the final projection leaves ‖A·x − y‖/‖y‖ at round-off.
        var residual = Measurements.RelativeResidual(b, op, result, y.ToArray(), shape);
        Assert.That(residual.Max(), Is.LessThan(1e-5), "residual");
        // Each image lands on its own component: within a few component stds of the truth, far better than zero-filled.
        using var zf = b.Allocate(shape);
        op.Adjoint(y, zf);
        var zfHost = zf.ToArray();
        for (int k = 0; k < 4; k++)
        {
            var t = truth.AsSpan(k * Size * Size, Size * Size);
            double pr = Psnr.Compute(t, result.AsSpan(k * Size * Size, Size * Size), 2), pz = Psnr.Compute(t, zfHost.AsSpan(k * Size * Size, Size * Size), 2);
            Assert.That(pr, Is.GreaterThan(pz + 6), $"image {k}: sampler {pr:F2} dB vs zero-filled {pz:F2} dB");
            Assert.That(pr, Is.GreaterThan(26), $"image {k}: {pr:F2} dB (the component std 0.05 alone allows ≈ 32 dB)");
        }
    }

    [Test]
    public void Noisy_final_step_reaches_the_expected_noise_energy_and_stops_there()
    {
        var b = TestBackends.Cpu;
        var (prior, truth) = PhantomMixture(b, 2, 2);
        using var _ = prior;
        var shape = new Shape(2, 1, Size, Size);
        using var op = new MaskOperator(b, TestData.Uniform(Size * Size, 8, 0, 1).Select(v => v < 0.6f ? 1f : 0f).ToArray(), new Shape(Size, Size));
        const double sigmaY = 0.1;
        var (yHost, yShape) = Measurements.Simulate(b, op, truth, shape, sigmaY, 5, op.Mask);
        using var y = b.Upload(yHost, new Shape(yShape));
        using var dc = new DataConsistencyDenoiser(prior, op, y, sigmaY);
        // Far from the data: the step brings ‖A·x − y‖² to m·σ_y² exactly.
        using var x = b.Upload(new float[truth.Length], shape);
        var steps = dc.Finalize(x);
        var ax = Measurements.Apply(b, op, x.ToArray(), shape);
        for (int k = 0; k < 2; k++)
        {
            double r2 = 0;
            for (int i = k * Size * Size; i < (k + 1) * Size * Size; i++) r2 += (ax[i] - yHost[i]) * (double)(ax[i] - yHost[i]);
            Assert.That(steps[k], Is.GreaterThan(0).And.LessThan(1));
            Assert.That(r2, Is.EqualTo(op.ObservedEntries(shape, k) * sigmaY * sigmaY).Within(1e-3 * r2), $"image {k}");
        }
        // Already within the noise: left alone.
        var again = dc.Finalize(x);
        Assert.That(again, Is.All.EqualTo(0).Within(1e-3));
        // Noiseless: the exact projection.
        using var dc0 = new DataConsistencyDenoiser(prior, op, y);
        Assert.That(dc0.Finalize(x), Is.All.EqualTo(1.0));
        Assert.That(Measurements.RelativeResidual(b, op, x.ToArray(), yHost, shape).Max(), Is.LessThan(1e-6));
    }

    [Test]
    public void Resampling_walk_runs_each_block_jump_count_times()
    {
        var order = new List<string>();
        ResamplingWalk.Run(7, 3, 2, (i, done) => order.Add($"{i}"), (from, to) => order.Add($"↑{from}→{to}"));
        Assert.That(string.Join(" ", order), Is.EqualTo("0 1 2 ↑3→0 0 1 2 3 4 5 ↑6→3 3 4 5 6"));
        Assert.That(ResamplingWalk.Evaluations(7, 3, 2), Is.EqualTo(order.Count(s => !s.StartsWith('↑'))));
        Assert.That(new RePaint(10, 2).Evaluations(30), Is.EqualTo(30 + 20));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TimeTravel(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ScoreMriPc(-1));
    }

    [Test]
    public void Reconstruction_run_is_the_library_flow_of_dk_reconstruct()
    {
        var b = TestBackends.Cpu;
        var dir = Path.Combine(Path.GetTempPath(), "dk-gmm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var means = Enumerable.Range(0, 2).Select(k => HeadPhantom.Generate(Size, 0, 200 + k, (LesionSpec?)null).Image.Select(v => 2 * v - 1).ToArray()).ToArray();
            var spec = Path.Combine(dir, "spec.json");
            File.WriteAllText(spec, System.Text.Json.JsonSerializer.Serialize(new { shape = new[] { 1, Size, Size }, weights = new[] { 1.0, 1.0 }, means, stds = new[] { 0.05, 0.05 } }));
            using var model = DiffusionKernels.Samplers.Sampling.DiffusionModel.Open("gmm:" + spec, b, 2);
            var images = means.SelectMany(m => m.Select(v => (v + 1) / 2)).ToArray();
            var request = new ReconstructionRequest { Task = InverseTask.Mri, Method = ReconstructionMethod.TimeTravel, Acceleration = 4, CenterFraction = 0.125, Steps = 12, JumpLength = 3, PosteriorSamples = 3 };
            var r = Reconstruction.Run(model, images, 2, request);
            Assert.That(r.EffectiveAcceleration, Is.EqualTo(4.0));
            Assert.That(r.Samples, Has.Length.EqualTo(3));
            Assert.That(r.Std, Is.Not.Null);
            Assert.That(r.Residual.Max(), Is.LessThan(1e-5), "the mean of consistent samples is consistent");
            Assert.That(r.EvaluationsPerImage, Is.EqualTo(new TimeTravel(3, 2).Evaluations(12)));
            var (psnr, _) = ImageQuality.PerImage(images, r.Estimate, 2, 1, Size, Size);
            var (naive, _) = ImageQuality.PerImage(images, r.Naive, 2, 1, Size, Size);
            Assert.That(psnr.Min(), Is.GreaterThan(naive.Max() + 6));
            Assert.Throws<ArgumentException>(() => Reconstruction.Run(model, images, 2, request with { Method = ReconstructionMethod.RePaint }));
            Assert.Throws<ArgumentException>(() => Reconstruction.Run(model, images, 2, request with { PosteriorSamples = 0 }));
        }
        finally { Directory.Delete(dir, true); }
    }
}
