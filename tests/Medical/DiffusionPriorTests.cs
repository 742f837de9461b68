using DiffusionKernels.Cli.Commands;
using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

public class DiffusionPriorTests
{
    private static readonly int[] Sample = [1, 8, 8];

    /// <summary>A two-component mixture on [1, 8, 8] with per-pixel means, far from any measurement.</summary>
    private static GaussianMixtureDenoiser Mixture(Backend b) =>
        new(b, Sample, [0.4, 0.6], [TestData.Uniform(64, 11, -1, 1), TestData.Uniform(64, 12, -1, 1)], [0.3, 0.2]);

    private static float[] RandomMask(int n, int seed) => TestData.Uniform(n, seed, 0, 1).Select(v => v < 0.5f ? 0f : 1f).ToArray();

    private static IEnumerable<TestCaseData> Operators()
    {
        yield return new TestCaseData("mask", (Func<Backend, ILinearOperator>)(b => new MaskOperator(b, RandomMask(64, 1), new Shape(8, 8)))).SetName("mask");
        yield return new TestCaseData("box x2", (Func<Backend, ILinearOperator>)(b => new BoxDownsample(b, 2))).SetName("box x2");
        yield return new TestCaseData("mri 4x", (Func<Backend, ILinearOperator>)(b => new CartesianMri(b, MriMasks.Random(8, 8, 4, 3, 0.125), new Shape(8, 8)))).SetName("mri random 4x");
        yield return new TestCaseData("mri 2-D", (Func<Backend, ILinearOperator>)(b => new CartesianMri(b, RandomMask(64, 5), new Shape(8, 8)))).SetName("mri 2-D random mask (unpaired frequencies)");
    }

    [TestCaseSource(nameof(Operators))]
    public void NoiselessProjectionMakesTheEstimateFitTheMeasurementExactly(string name, Func<Backend, ILinearOperator> make)
    {
        var b = TestBackends.Cpu;
        using var gmm = Mixture(b);
        using var op = make(b);
        var shape = new Shape(3, 1, 8, 8);
        using var truth = b.Upload(TestData.Uniform(192, 21, -1, 1), shape);
        using var y = b.Allocate(op.MeasurementShape(shape));
        op.Forward(truth, y);
        using var dc = new DataConsistencyDenoiser(gmm, op, y);
        using var x = b.Upload(TestData.Normal(192, 22), shape);
        using var den = b.Allocate(shape);
        using var ay = b.Allocate(y.Shape);
        foreach (var sigma in new[] { 5.0, 0.7, 0.05 })
        {
            dc.Denoise(x, sigma, den);
            op.Forward(den, ay);
            Close.Assert(y.ToArray(), ay.ToArray(), 2e-6);
        }
        // The null-space part comes from the prior, not the measurement: x̂₀ differs from A⁺y somewhere unless A is invertible.
        using var pinv = b.Allocate(shape);
        op.PseudoInverse(y, pinv);
        Assert.That(den.ToArray().Zip(pinv.ToArray(), (p, q) => Math.Abs(p - q)).Max(), Is.GreaterThan(1e-2), name);
    }

    [Test]
    public void NoisyVariantMovesAFractionMinOneSigmaOverSigmaYOfTheWay()
    {
        var b = TestBackends.Cpu;
        using var gmm = Mixture(b);
        using var op = new MaskOperator(b, RandomMask(64, 1), new Shape(8, 8));
        var shape = new Shape(2, 1, 8, 8);
        using var y = b.Upload(TestData.Uniform(128, 31, -1, 1), shape);
        op.Forward(y, y);
        using var dc = new DataConsistencyDenoiser(gmm, op, y, measurementSigma: 0.4);
        Assert.That(dc.Weight(1.0), Is.EqualTo(1));
        Assert.That(dc.Weight(0.1), Is.EqualTo(0.25).Within(1e-12));
        using var x = b.Upload(TestData.Normal(128, 32), shape);
        using var raw = b.Allocate(shape);
        using var den = b.Allocate(shape);
        gmm.Denoise(x, 0.1, raw);
        dc.Denoise(x, 0.1, den);
        var (r, d, yy, m) = (raw.ToArray(), den.ToArray(), y.ToArray(), op.Mask.ToArray());
        for (int i = 0; i < r.Length; i++)
        {
            float expected = m[i % 64] == 1 ? r[i] + 0.25f * (yy[i] - r[i]) : r[i];
            Assert.That(d[i], Is.EqualTo(expected).Within(1e-5), $"pixel {i}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataConsistencyDenoiser(gmm, op, y, -1));
    }

    [Test]
    public void RePaintKeepsTheKnownRegionAndFillsTheRestFromThePrior()
    {
        var b = TestBackends.Cpu;
        using var gmm = Mixture(b);
        var shape = new Shape(4, 1, 8, 8);
        var maskHost = RandomMask(4 * 64, 41);
        using var mask = b.Upload(maskHost, shape);
        var knownHost = TestData.Uniform(256, 42, -1, 1);
        using var known = b.Upload(knownHost, shape);
        using var x = b.Allocate(shape);
        b.RandomNormal(x, 7);
        var sigmas = SigmaGrids.Karras(12, gmm.SigmaMin, gmm.SigmaMax);
        b.Scale(x, (float)sigmas[0], x);
        var repaint = new RePaint(jumpLength: 4, jumpCount: 3);
        int before = gmm.Evaluations;
        using (var ctx = new SamplerContext(gmm, x, new SamplerOptions { Seed = 3 })) repaint.Sample(x, known, mask, sigmas, ctx);
        Assert.That(gmm.Evaluations - before, Is.EqualTo(repaint.Evaluations(12)).And.EqualTo(12 + 8 * 2));
        var result = x.ToArray();
        for (int i = 0; i < result.Length; i++)
            if (maskHost[i] == 1) Assert.That(result[i], Is.EqualTo(knownHost[i]).Within(1e-6), $"known pixel {i}");
        // Unknown pixels lie near one of the two component means (std 0.3 / 0.2), not at the noise or the known values.
        var (m0, m1) = (gmm.Means[0], gmm.Means[1]);
        int near = Enumerable.Range(0, result.Length).Count(i => maskHost[i] == 0 && Math.Min(Math.Abs(result[i] - m0[i % 64]), Math.Abs(result[i] - m1[i % 64])) < 1.2);
        Assert.That(near, Is.EqualTo(maskHost.Count(v => v == 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RePaint(0, 1));
    }

    [Test]
    public void SdEditStartsAtTheMeasurementSigmaAndRemovesNoise()
    {
        var b = TestBackends.Cpu;
        var mean = TestData.Uniform(64, 51, -0.5f, 0.5f);
        using var gmm = new GaussianMixtureDenoiser(b, Sample, [1.0], [mean], [0.05]);
        var sigmas = SdEdit.Sigmas(gmm, 0.5, 8);
        Assert.That(sigmas[0], Is.EqualTo(0.5));
        Assert.That(sigmas[^1], Is.Zero);
        var shape = new Shape(8, 1, 8, 8);
        var clean = Enumerable.Range(0, 512).Select(i => mean[i % 64]).ToArray();
        var noise = TestData.Normal(512, 52);
        var noisy = clean.Zip(noise, (c, n) => c + 0.5f * n).ToArray();
        using var x = b.Upload(noisy, shape);
        using (var ctx = new SamplerContext(gmm, x, new SamplerOptions())) SdEdit.Denoise(x, 0.5, 8, SamplerRegistry.Get("euler"), ctx);
        double before = Psnr.MeanSquaredError(clean, noisy), after = Psnr.MeanSquaredError(clean, x.ToArray());
        Assert.That(after, Is.LessThan(before / 20), $"MSE {before:G3} → {after:G3}");
        Assert.Throws<ArgumentOutOfRangeException>(() => SdEdit.Sigmas(gmm, 0, 8));
    }

    [Test]
    public void PercentileAndSegmentation()
    {
        float[] v = [5, 1, 3, 2, 4];
        Assert.That(AnomalyDetector.Percentile(v, 50), Is.EqualTo(3f));
        Assert.That(AnomalyDetector.Percentile(v, 100), Is.EqualTo(5f));
        Assert.That(AnomalyDetector.Percentile(v, 12.5), Is.EqualTo(1.5f));
        Assert.That(AnomalyDetector.Segment(v, 75), Is.EqualTo(new float[] { 1, 0, 0, 0, 1 }));
    }

    private static DiffusionModel Bundled(Backend b, int batch) => DiffusionModel.Open(SampleCommand.FindBundledModel(), b, batch);

    [Test]
    public void MriReconstructionWithTheBundledModelBeatsZeroFilled()
    {
        var b = TestBackends.Cpu;
        using var model = Bundled(b, 3);
        var (images, _) = HeadPhantom.GenerateBatch(3, 64, 0, lesions: false, firstIndex: 2_000_000_000);
        var x0 = images.Select(v => 2 * v - 1).ToArray();
        var shape = new Shape(3, 1, 64, 64);
        using var op = new CartesianMri(b, MriMasks.Random(64, 64, 4, 1), new Shape(64, 64));
        using var xt = b.Upload(x0, shape);
        using var y = b.Allocate(op.MeasurementShape(shape));
        op.Forward(xt, y);
        using var zf = b.Allocate(shape);
        op.Adjoint(y, zf);
        var recon = DiffusionPrior.Reconstruct(model, op, y.ToArray(), 3, 0, SamplerRegistry.Get("ddpm"), model.Sigmas("karras", 10), new SamplerOptions { Seed = 1 });
        var zfHost = zf.ToArray();
        for (int k = 0; k < 3; k++)
        {
            var truth = x0.AsSpan(k * 4096, 4096);
            double pz = Psnr.Compute(truth, zfHost.AsSpan(k * 4096, 4096), 2), pr = Psnr.Compute(truth, recon.AsSpan(k * 4096, 4096), 2);
            Assert.That(pr, Is.GreaterThan(pz + 3), $"image {k}: zero-filled {pz:F2} dB, diffusion {pr:F2} dB");
        }
    }

    [Test]
    public void AnomalyMapFindsTheLesionsOfAPhantom()
    {
        var b = TestBackends.Cpu;
        using var model = Bundled(b, 1);
        var (images, masks) = HeadPhantom.GenerateBatch(1, 64, 0, lesions: true, firstIndex: 2_000_000_000);
        double sigma = AnomalyDetector.SigmaAt(model.Schedule.CreateSchedule(), 250);
        var recon = DiffusionPrior.AnomalyReconstruct(model, images.Select(v => 2 * v - 1).ToArray(), 1, sigma, 10, SamplerRegistry.Get("ddpm"), new SamplerOptions { Seed = 2 });
        var map = AnomalyDetector.Map(images, recon.Select(v => (v + 1) / 2).ToArray(), 1, 1, 64, 64);
        double auroc = Auroc.Compute(map, masks!);
        Assert.That(auroc, Is.GreaterThan(0.8), $"AUROC {auroc:F3}");
        Assert.Throws<ArgumentOutOfRangeException>(() => AnomalyDetector.SigmaAt(model.Schedule.CreateSchedule(), 1000));
    }
}
