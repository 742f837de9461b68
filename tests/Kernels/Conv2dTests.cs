using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

// Tolerance: every output is a sum of Cin·kh·kw products (≤ 576 here) plus bias and residual. fp32 summation
// errs by at most ~K·ε·Σ|terms|, and for these normal inputs Σ|terms| stays within a small multiple of the
// largest output, so 1e-5 relative to the max magnitude (the Close.Assert default) holds with margin, against
// both the double-precision loop and the GPU kernels (which sum in another order).
public class Conv2dTests
{
    /// <summary>One convolution: x [n, cin, h, w] * weight [cout, cin, k, k].</summary>
    public sealed record Case(int N, int Cin, int H, int W, int Cout, int K, int Stride = 1, int Padding = 0,
        int ExtraPad = 0, bool Bias = false, bool Residual = false, float Scale = 1f)
    {
        public int Ho => (H + 2 * Padding + ExtraPad - K) / Stride + 1;
        public int Wo => (W + 2 * Padding + ExtraPad - K) / Stride + 1;

        public override string ToString() =>
            $"{N}x{Cin}x{H}x{W}->{Cout} k{K} s{Stride} p{Padding}{(ExtraPad > 0 ? $"+{ExtraPad}" : "")}{(Bias ? " bias" : "")}{(Residual ? " res" : "")}{(Scale != 1 ? $" x{Scale}" : "")}";
    }

    private static IEnumerable<Case> SmallCases()
    {
        yield return new Case(1, 3, 7, 5, 5, 3, Padding: 1);
        yield return new Case(1, 3, 7, 5, 5, 1);
        yield return new Case(2, 5, 6, 9, 7, 1, Bias: true);
        yield return new Case(3, 3, 7, 5, 6, 3, Padding: 1, Bias: true, Residual: true, Scale: 0.7071f);
        yield return new Case(2, 6, 9, 8, 3, 3, Stride: 2, Padding: 1, Bias: true);
        yield return new Case(1, 5, 8, 7, 5, 3, Stride: 2, Padding: 0, ExtraPad: 1, Bias: true); // diffusers downsample
        yield return new Case(2, 4, 9, 9, 3, 3, Stride: 2, Padding: 0, ExtraPad: 1, Residual: true);
        yield return new Case(1, 3, 9, 7, 4, 5, Padding: 2, Bias: true);
        yield return new Case(2, 3, 6, 7, 5, 2, Stride: 2, Residual: true, Scale: 2f);
        yield return new Case(1, 7, 5, 6, 9, 3, Padding: 0, Scale: 0.5f);
        yield return new Case(1, 3, 6, 5, 4, 1, Stride: 2, Padding: 1, Bias: true); // 1×1 with padding: not the GEMM shortcut
        yield return new Case(2, 3, 5, 5, 4, 1, ExtraPad: 1, Bias: true);           // 1×1 whose output outgrows the input
        yield return new Case(1, 2, 3, 3, 2, 3, Stride: 1, Padding: 2);             // more padding than input
    }

    private static IEnumerable<Case> LargeCases()
    {
        yield return new Case(2, 32, 17, 19, 48, 3, Padding: 1, Bias: true, Residual: true, Scale: 0.5f);
        yield return new Case(1, 64, 40, 37, 24, 3, Padding: 1, Bias: true);        // several pixel blocks, split mid-row
        yield return new Case(1, 64, 80, 75, 20, 3, Stride: 2, Padding: 1, Residual: true);
        yield return new Case(3, 20, 40, 37, 24, 1, Bias: true, Residual: true);    // pointwise, two blocks per image
        yield return new Case(2, 33, 16, 16, 17, 3, Stride: 2, ExtraPad: 1, Bias: true);
    }

    private static IEnumerable<Case> EmulatorCases()
    {
        yield return new Case(1, 3, 7, 5, 5, 3, Padding: 1, Bias: true);
        yield return new Case(2, 2, 5, 13, 65, 1, Bias: true, Residual: true, Scale: 0.5f); // 65 channels and 130 pixels: one past a tile
        yield return new Case(2, 3, 6, 7, 4, 3, Padding: 1, Residual: true);               // a pixel tile spans two images
        yield return new Case(1, 5, 8, 7, 3, 3, Stride: 2, ExtraPad: 1, Bias: true);
        yield return new Case(1, 2, 6, 5, 3, 2, Stride: 2, Padding: 1);
    }

    /// <summary>On CUDA also the large shapes, edge tiles in both dimensions (130 channels, stride 2) and odd sizes.</summary>
    private static IEnumerable<Case> CudaCases()
    {
        foreach (var c in LargeCases()) yield return c;
        yield return new Case(3, 17, 33, 31, 130, 3, Stride: 2, Padding: 1, Bias: true, Residual: true, Scale: 0.7071f);
        yield return new Case(2, 128, 32, 32, 128, 3, Padding: 1, Bias: true);   // a DDPM-CIFAR resnet conv
        yield return new Case(1, 256, 8, 8, 256, 3, Stride: 2, ExtraPad: 1);       // a diffusers downsample
        yield return new Case(4, 3, 64, 64, 64, 3, Padding: 1, Bias: true);       // conv_in of a 64×64 model
    }

    private static IEnumerable<TestCaseData> KernelCases() => GpuTargets.Cases(EmulatorCases(), CudaCases());

    [TestCaseSource(nameof(SmallCases))]
    [TestCaseSource(nameof(LargeCases))]
    public void CpuMatchesNaiveLoop(Case c)
    {
        var (x, w, bias, residual) = Inputs(c);
        var expected = Naive(c, x, w, bias, residual);
        var actual = RunBackend(TestBackends.Cpu, c, x, w, bias, residual);
        Close.Assert(expected, actual, what: $"conv2d {c}");
    }

    [Test]
    public void CpuResidualMayBeTheOutput()
    {
        var c = new Case(2, 5, 9, 7, 6, 3, Padding: 1, Bias: true, Residual: true, Scale: 0.5f);
        var (x, w, bias, residual) = Inputs(c);
        var expected = Naive(c, x, w, bias, residual);
        var b = TestBackends.Cpu;
        using var tx = b.Upload(x, new Shape(c.N, c.Cin, c.H, c.W));
        using var tw = b.Upload(w, new Shape(c.Cout, c.Cin, c.K, c.K));
        using var tb = b.Upload(bias, new Shape(c.Cout));
        using var ty = b.Upload(residual, new Shape(c.N, c.Cout, c.Ho, c.Wo));
        b.Conv2d(tx, tw, tb, ty, c.Stride, c.Padding, residual: ty, outputScale: c.Scale);
        Close.Assert(expected, ty.ToArray(), what: "in-place residual");
    }

    [TestCaseSource(nameof(KernelCases))]
    public void TiledKernelMatchesCpu(Case c, string device) => CompareKernel(c, Conv2dAlgorithm.Tiled, device);

    [TestCaseSource(nameof(KernelCases))]
    public void TiledDividingKernelMatchesCpu(Case c, string device) => CompareKernel(c, Conv2dAlgorithm.TiledDividing, device);

    [TestCaseSource(nameof(KernelCases))]
    public void DirectKernelMatchesCpu(Case c, string device) => CompareKernel(c, Conv2dAlgorithm.Direct, device);

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void IlgpuBackendMatchesCpu(string device)
    {
        var c = new Case(2, 3, 7, 5, 5, 3, Stride: 2, Padding: 1, Bias: true, Residual: true, Scale: 0.25f);
        var (x, w, bias, residual) = Inputs(c);
        var expected = RunBackend(TestBackends.Cpu, c, x, w, bias, residual);
        var actual = RunBackend(TestBackends.Get(device), c, x, w, bias, residual);
        Close.Assert(expected, actual, what: $"ilgpu backend {c}");
    }

    [Test]
    public void WrongWeightChannelsAreRejected()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(1, 3, 7, 5);
        using var w = b.Allocate(4, 2, 3, 3);
        using var y = b.Allocate(1, 4, 7, 5);
        var e = Assert.Throws<ShapeMismatchException>(() => b.Conv2d(x, w, null, y, padding: 1))!;
        Assert.That(e.Message, Does.Contain("conv2d").And.Contain(w.Shape.ToString()).And.Contain(x.Shape.ToString()));
    }

    [Test]
    public void WrongOutputShapeIsRejected()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(1, 3, 8, 8);
        using var w = b.Allocate(4, 3, 3, 3);
        using var y = b.Allocate(1, 4, 8, 8); // stride 2, padding 1 gives 4×4
        var e = Assert.Throws<ShapeMismatchException>(() => b.Conv2d(x, w, null, y, stride: 2, padding: 1))!;
        Assert.That(e.Message, Does.Contain("conv2d").And.Contain(new Shape(1, 4, 4, 4).ToString()).And.Contain(y.Shape.ToString()));
    }

    [Test]
    public void WrongBiasAndResidualShapesAreRejected()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(1, 3, 5, 5);
        using var w = b.Allocate(4, 3, 1, 1);
        using var y = b.Allocate(1, 4, 5, 5);
        using var bias = b.Allocate(3);
        using var residual = b.Allocate(1, 4, 5, 4);
        var e1 = Assert.Throws<ShapeMismatchException>(() => b.Conv2d(x, w, bias, y))!;
        Assert.That(e1.Message, Does.Contain("conv2d").And.Contain("bias").And.Contain(bias.Shape.ToString()));
        var e2 = Assert.Throws<ShapeMismatchException>(() => b.Conv2d(x, w, null, y, residual: residual))!;
        Assert.That(e2.Message, Does.Contain("conv2d").And.Contain(residual.Shape.ToString()).And.Contain(y.Shape.ToString()));
    }

    private static void CompareKernel(Case c, Conv2dAlgorithm algorithm, string device)
    {
        var (x, w, bias, residual) = Inputs(c);
        var expected = RunBackend(TestBackends.Cpu, c, x, w, bias, residual);
        var backend = TestBackends.Ilgpu(device);
        var kernels = new Conv2dKernels(backend.Accelerator);
        Assert.That(kernels.HasTiled, Is.True, "the emulator and CUDA run 256-thread groups, so the tiled kernel must load");
        var accelerator = backend.Accelerator;
        using var dx = accelerator.Allocate1D(x);
        using var dw = accelerator.Allocate1D(w);
        using var db = accelerator.Allocate1D(bias);
        using var dr = accelerator.Allocate1D(residual);
        using var dy = accelerator.Allocate1D<float>(expected.Length);
        dy.View.MemSet(backend.Stream, 0xFF); // NaN: every output must be written
        var geometry = new Conv2dGeometry
        {
            Batch = c.N,
            InChannels = c.Cin,
            Height = c.H,
            Width = c.W,
            OutChannels = c.Cout,
            KernelHeight = c.K,
            KernelWidth = c.K,
            OutHeight = c.Ho,
            OutWidth = c.Wo,
            Stride = c.Stride,
            Padding = c.Padding,
            HasBias = c.Bias ? 1 : 0,
            HasResidual = c.Residual ? 1 : 0,
            Scale = c.Scale,
        };
        kernels.Run(backend.Stream, dx.View, dw.View, db.View, dr.View, dy.View, geometry, algorithm);
        backend.Stream.Synchronize();
        Close.Assert(expected, dy.GetAsArray1D(), what: $"{algorithm} {c}");
    }

    private static (float[] X, float[] W, float[] Bias, float[] Residual) Inputs(Case c)
    {
        int seed = c.ToString().Aggregate(17, (h, ch) => unchecked(h * 31 + ch)) & 0xFFFF; // stable across runs
        return (TestData.Normal((long)c.N * c.Cin * c.H * c.W, seed),
            TestData.Normal((long)c.Cout * c.Cin * c.K * c.K, seed + 1, 1f / MathF.Sqrt(c.Cin * c.K * c.K)),
            TestData.Normal(c.Cout, seed + 2),
            TestData.Normal((long)c.N * c.Cout * c.Ho * c.Wo, seed + 3));
    }

    private static float[] RunBackend(Backend b, Case c, float[] x, float[] w, float[] bias, float[] residual)
    {
        using var tx = b.Upload(x, new Shape(c.N, c.Cin, c.H, c.W));
        using var tw = b.Upload(w, new Shape(c.Cout, c.Cin, c.K, c.K));
        using var tb = b.Upload(bias, new Shape(c.Cout));
        using var tr = b.Upload(residual, new Shape(c.N, c.Cout, c.Ho, c.Wo));
        using var ty = b.Allocate(c.N, c.Cout, c.Ho, c.Wo);
        b.Conv2d(tx, tw, c.Bias ? tb : null, ty, c.Stride, c.Padding, c.Residual ? tr : null, c.Scale, c.ExtraPad);
        return ty.ToArray();
    }

    /// <summary>The definition, summed in double: taps outside the input (padding on every side) read zero.</summary>
    private static float[] Naive(Case c, float[] x, float[] w, float[] bias, float[] residual)
    {
        var y = new float[c.N * c.Cout * c.Ho * c.Wo];
        for (int n = 0; n < c.N; n++)
            for (int co = 0; co < c.Cout; co++)
                for (int oy = 0; oy < c.Ho; oy++)
                    for (int ox = 0; ox < c.Wo; ox++)
                    {
                        double s = c.Bias ? bias[co] : 0;
                        for (int ci = 0; ci < c.Cin; ci++)
                            for (int ky = 0; ky < c.K; ky++)
                                for (int kx = 0; kx < c.K; kx++)
                                {
                                    int iy = oy * c.Stride - c.Padding + ky, ix = ox * c.Stride - c.Padding + kx;
                                    if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                                    s += (double)x[((n * c.Cin + ci) * c.H + iy) * c.W + ix] * w[((co * c.Cin + ci) * c.K + ky) * c.K + kx];
                                }
                        int i = ((n * c.Cout + co) * c.Ho + oy) * c.Wo + ox;
                        if (c.Residual) s += residual[i];
                        y[i] = (float)(s * c.Scale);
                    }
        return y;
    }
}
