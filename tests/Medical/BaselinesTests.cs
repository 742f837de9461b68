using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

public class BaselinesTests
{
    [Test]
    public void Tv_beats_zero_filled_on_4x_mri_of_a_phantom()
    {
        var b = TestBackends.Cpu;
        const int n = 64;
        var (truth, _) = HeadPhantom.Generate(n, 7, 0, lesions: false);
        var shape = new Shape(1, 1, n, n);
        using var op = new CartesianMri(b, MriMasks.Random(n, n, 4, 3), new Shape(n, n));
        using var host = new HostLinearOperator(op, b, shape);
        var y = new float[host.MeasurementLength];
        host.Forward(truth, y);

        using var yt = b.Upload(y, op.MeasurementShape(shape));
        using var zf = b.Allocate(shape);
        ZeroFilled.Reconstruct(op, yt, zf);
        using var pinv = b.Allocate(shape);
        op.PseudoInverse(yt, pinv);
        var tv = TotalVariation.Reconstruct(host.Forward, host.Adjoint, y, 1, n, n, new TvOptions { Lambda = 3e-3, MaxIterations = 1000, Tolerance = 0, OperatorNorm = 1 });

        double pZf = Psnr.Compute(truth, zf.ToArray()), pPinv = Psnr.Compute(truth, pinv.ToArray()), pTv = Psnr.Compute(truth, tv);
        TestContext.Out.WriteLine($"PSNR zero-filled {pZf:F2} dB, pseudo-inverse {pPinv:F2} dB, TV {pTv:F2} dB; SSIM zf {Ssim.Compute(truth, zf.ToArray(), n, n, 1):F3} TV {Ssim.Compute(truth, tv, n, n, 1):F3}");
        Assert.That(pTv, Is.GreaterThan(pZf + 8), "TV margin over zero-filled");
        Assert.That(pTv, Is.GreaterThan(pPinv + 8), "TV margin over the pseudo-inverse");
    }

    [Test]
    public void Tv_with_exact_data_fits_the_measurement_stays_in_the_box_and_beats_the_penalized_tv()
    {
        var b = TestBackends.Cpu;
        const int n = 32;
        var (truth, _) = HeadPhantom.GenerateBatch(2, n, 0, (LesionSpec?)null, 3_000_000_000);
        var shape = new Shape(2, 1, n, n);
        using var op = new CartesianMri(b, MriMasks.Random(n, n, 4, 5, 0.125), new Shape(n, n));
        using var host = new HostLinearOperator(op, b, shape);
        var y = new float[host.MeasurementLength];
        host.Forward(truth, y);
        var exact = TotalVariation.Solve(host.Forward, host.Adjoint, y, 2, n, n,
            new TvOptions { ExactData = true, Box = (0, 1), MaxIterations = 20_000, Tolerance = 1e-6, OperatorNorm = 1, StepRatio = 0.005 });
        Assert.That(exact.Converged, Is.True, $"{exact.Iterations} iterations");
        Assert.That(exact.X.Min(), Is.GreaterThanOrEqualTo(0f));
        Assert.That(exact.X.Max(), Is.LessThanOrEqualTo(1f));
        Assert.That(Measurements.RelativeResidual(b, op, exact.X, y, shape).Max(), Is.LessThan(2e-3), "A·x = y at convergence");
        var penalized = TotalVariation.Solve(host.Forward, host.Adjoint, y, 2, n, n, new TvOptions { Lambda = 1e-3, OperatorNorm = 1, StepRatio = 50 });
        Assert.That(penalized.Converged, Is.True);
        double pe = Psnr.Compute(truth, exact.X, 1), pp = Psnr.Compute(truth, penalized.X, 1);
        TestContext.Out.WriteLine($"TV-DC {pe:F2} dB in {exact.Iterations} it, TV {pp:F2} dB in {penalized.Iterations} it");
        Assert.That(pe, Is.GreaterThan(pp), "noiseless data: the exact constraint is the better model");
    }

    [Test]
    public void Wavelet_sparsity_with_the_identity_is_soft_thresholding_in_closed_form()
    {
        // A = I: min ½‖x − y‖² + λ‖Ψ_d x‖₁ has the exact solution Ψᵀ·soft(Ψy, λ) on the detail coefficients.
        var b = TestBackends.Cpu;
        const int n = 16;
        var y = TestData.Normal(2 * n * n, 12, 0.3f);
        using var id = new IdentityOperator(b);
        using var host = new HostLinearOperator(id, b, new Shape(2, 1, n, n));
        const double lambda = 0.2;
        var r = WaveletSparsity.Solve(host.Forward, host.Adjoint, y, 2, n, n,
            new WaveletOptions { Lambda = lambda, Wavelet = DaubechiesWavelet.Db2, Levels = 2, OperatorNorm = 1, Tolerance = 1e-7 });
        Assert.That(r.Converged, Is.True);
        var psi = new Wavelet2d(DaubechiesWavelet.Db2, 2);
        var c = psi.Forward(y, 2, n, n);
        var keep = psi.ApproximationMask(n, n);
        for (int i = 0; i < c.Length; i++)
            if (!keep[i % (n * n)]) c[i] = MathF.Sign(c[i]) * MathF.Max(0, MathF.Abs(c[i]) - (float)lambda);
        Close.Assert(psi.Inverse(c, 2, n, n), r.X, 1e-4, "closed form");
        Assert.That(c.Count(v => v == 0), Is.GreaterThan(c.Length / 4), "the threshold zeroes many details");
    }

    [Test]
    public void Parameter_search_finds_the_peak_between_grid_points()
    {
        // Score peaks at λ = 0.0042 in log space; the grid has 1e-3, 1e-2 … and two refinements get within a factor √[4]10.
        var (best, _, trials) = ParameterSearch.Maximize(l => -Math.Pow(Math.Log(l / 0.0042), 2), ParameterSearch.LogGrid(1e-4, 1e-1, 4));
        Assert.That(Math.Abs(Math.Log10(best / 0.0042)), Is.LessThan(0.15));
        Assert.That(trials.Count, Is.EqualTo(4 + 4));
        Assert.Throws<ArgumentException>(() => ParameterSearch.Maximize(l => l, [0.0]));
    }

    [Test]
    public void Operator_norm_estimate()
    {
        var b = TestBackends.Cpu;
        using var box = new BoxDownsample(b, 2);
        using var host = new HostLinearOperator(box, b, new Shape(1, 1, 16, 16));
        Assert.That(TotalVariation.EstimateNorm(host.Forward, host.Adjoint, host.ImageLength, host.MeasurementLength), Is.EqualTo(0.5 * 1.01).Within(0.01));
    }

    [Test]
    public void Bicubic_keeps_constants_and_linear_ramps()
    {
        var c = Enumerable.Repeat(0.3f, 2 * 5 * 6).ToArray();
        Assert.That(Bicubic.Upsample(c, 2, 5, 6, 4).All(v => Math.Abs(v - 0.3f) < 1e-6), Is.True);
        Assert.That(Bicubic.Kernel(0), Is.EqualTo(1.0));
        Assert.That(Bicubic.Kernel(1), Is.EqualTo(0.0).Within(1e-15));
        Assert.That(Bicubic.Kernel(1.5), Is.EqualTo(-0.5 * 3.375 + 2.5 * 2.25 - 4 * 1.5 + 2).Within(1e-12)); // a|t|³ − 5a|t|² + 8a|t| − 4a, a = −½
        // A ramp along the width is reproduced wherever no tap is clamped.
        int w = 12;
        var ramp = Enumerable.Range(0, 3 * w).Select(i => (float)(i % w)).ToArray();
        var up = Bicubic.Upsample(ramp, 1, 3, w, 2);
        for (int o = 4; o < 2 * w - 4; o++) Assert.That(up[2 * w + o], Is.EqualTo((o + 0.5) / 2 - 0.5).Within(1e-5));
    }

    [Test]
    public void Gaussian_filter_impulse_response_and_reflection()
    {
        var x = new float[21 * 21];
        x[10 * 21 + 10] = 1;
        var y = GaussianFilter.Apply(x, 1, 21, 21, 1.5);
        for (int i = 0; i < 21; i++)
            for (int j = 0; j < 21; j++)
            {
                int di = i - 10, dj = j - 10;
                double e = Math.Abs(di) <= 6 && Math.Abs(dj) <= 6 ? Math.Exp(-(di * di + dj * dj) / 4.5) : 0; // radius int(4·1.5 + ½) = 6
                double norm = Enumerable.Range(-6, 13).Sum(t => Math.Exp(-t * t / 4.5));
                Assert.That(y[i * 21 + j], Is.EqualTo(e / (norm * norm)).Within(1e-7));
            }
        // Reflect mode: a constant stays constant, and a corner impulse keeps all its mass folded back in.
        var c = GaussianFilter.Apply(Enumerable.Repeat(2f, 30).ToArray(), 1, 5, 6, 2.0);
        Assert.That(c.All(v => Math.Abs(v - 2f) < 1e-5), Is.True);
        var corner = new float[64];
        corner[0] = 1;
        Assert.That(GaussianFilter.Apply(corner, 1, 8, 8, 1.0).Sum(), Is.EqualTo(1f).Within(1e-5));
        Assert.Throws<ArgumentOutOfRangeException>(() => GaussianFilter.Apply(corner, 1, 8, 8, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => GaussianFilter.Apply(corner, 1, 8, 8, 1e9));
    }
}
