using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

/// <summary>
/// The conv with a per-sample channel bias in its epilogue (a resnet's conv1 + time embedding) against the conv followed
/// by the channel-bias add it replaces, on the CPU backend and the ILGPU kernels.
/// </summary>
public class ConvSampleBiasTests
{
    /// <summary>
    /// One conv of x [n, cin, h, w] by [cout, cin, k, k], with the per-sample bias read from columns [Offset, Offset +
    /// cout) of an [n, Stride] matrix.
    /// </summary>
    public sealed record Case(int N, int Cin, int H, int W, int Cout, int K, int Padding, int Stride, int Offset,
        bool Residual = false, float Scale = 1f)
    {
        public int Ho => H + 2 * Padding - K + 1;
        public int Wo => W + 2 * Padding - K + 1;

        public override string ToString() =>
            $"{N}x{Cin}x{H}x{W}->{Cout} k{K} p{Padding} bias[{N},{Stride}]@{Offset}{(Residual ? " res" : "")}{(Scale != 1 ? $" x{Scale}" : "")}";
    }

    private static IEnumerable<Case> CpuCases()
    {
        yield return new Case(2, 3, 7, 5, 5, 3, 1, 5, 0);
        yield return new Case(3, 5, 6, 9, 7, 1, 0, 13, 4);
        yield return new Case(2, 16, 9, 11, 17, 3, 1, 40, 23);              // Winograd shape (≥ 16 channels, 3×3)
        yield return new Case(3, 3, 7, 5, 6, 3, 1, 9, 2, Residual: true, Scale: 0.7071f);
    }

    private static IEnumerable<Case> EmulatorCases()
    {
        yield return new Case(2, 3, 6, 7, 4, 3, 1, 11, 5);                  // a pixel tile spans two images
        yield return new Case(3, 2, 5, 13, 65, 1, 0, 70, 3);                // 65 channels: one past a channel tile
        yield return new Case(2, 3, 5, 5, 6, 3, 1, 6, 0, Residual: true, Scale: 0.5f);
    }

    private static IEnumerable<Case> CudaCases()
    {
        yield return new Case(2, 128, 32, 32, 128, 3, 1, 1792, 640);        // a DDPM-CIFAR resnet conv1 in the stacked projection
        yield return new Case(3, 17, 33, 31, 130, 3, 1, 131, 1, Residual: true, Scale: 0.7071f);
    }

    private static IEnumerable<TestCaseData> KernelCases() => GpuTargets.Cases(EmulatorCases(), CudaCases());

    [TestCaseSource(nameof(CpuCases))]
    public void CpuFusedMatchesConvThenAdd(Case c)
    {
        var b = TestBackends.Cpu;
        var expected = Unfused(b, c);
        var actual = Fused(b, c);
        if (!c.Residual && c.Scale == 1f)
        {
            // The CPU backend adds the per-sample bias after the conv, inside the op: the bits of the two-step path.
            Close.Identical(expected, actual, $"cpu {c}");
        }
        else
        {
            // (conv + bias + residual)·s + s·t against the reference's ((conv + bias + residual)·s) + t·s computed in
            // another order: fp32 rounding of a few terms, far below the 1e-5 of the largest magnitude.
            Close.Assert(expected, actual, what: $"cpu {c}");
        }
    }

    [TestCaseSource(nameof(KernelCases))]
    public void TiledKernelMatchesCpu(Case c, string device) => CompareKernel(c, Conv2dAlgorithm.Tiled, device);

    [TestCaseSource(nameof(KernelCases))]
    public void DirectKernelMatchesCpu(Case c, string device) => CompareKernel(c, Conv2dAlgorithm.Direct, device);

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void IlgpuFusedIsTheConvThenAddBitForBit(string device)
    {
        // The epilogue adds (acc + bias) + t in the order the conv's store and the add kernel round them, scale 1 and
        // no residual (a resnet's conv1): the same bits as the two launches it replaces.
        var b = TestBackends.Get(device);
        var c = new Case(3, 4, 6, 5, 7, 3, 1, 12, 5);
        Close.Identical(Unfused(b, c), Fused(b, c), $"{device} {c}");
    }

    [Test]
    public void SliceOutsideTheSampleBiasIsRefused()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(2, 3, 4, 4);
        using var w = b.Allocate(4, 3, 1, 1);
        using var y = b.Allocate(2, 4, 4, 4);
        using var t = b.Allocate(2, 6);
        var e = Assert.Throws<ShapeMismatchException>(() => b.Conv2dWithSampleBias(x, w, null, t, 3, y))!;
        Assert.That(e.Message, Does.Contain("conv2d").And.Contain("sample bias").And.Contain("[3, 7)"));
        using var oneSample = b.Allocate(1, 8);
        Assert.Throws<ShapeMismatchException>(() => b.Conv2dWithSampleBias(x, w, null, oneSample, 0, y));
    }

    private static void CompareKernel(Case c, Conv2dAlgorithm algorithm, string device)
    {
        var (x, w, bias, sampleBias, residual) = Inputs(c);
        var expected = Fused(TestBackends.Cpu, c);
        var backend = TestBackends.Ilgpu(device);
        var kernels = new Conv2dKernels(backend.Accelerator);
        var accelerator = backend.Accelerator;
        using var dx = accelerator.Allocate1D(x);
        using var dw = accelerator.Allocate1D(w);
        using var db = accelerator.Allocate1D(bias);
        using var dt = accelerator.Allocate1D(sampleBias);
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
            Stride = 1,
            Padding = c.Padding,
            HasBias = 1,
            HasResidual = c.Residual ? 1 : 0,
            HasSampleBias = 1,
            SampleBiasStride = c.Stride,
            Scale = c.Scale,
        };
        kernels.Run(backend.Stream, dx.View, dw.View, db.View, dt.View.SubView(c.Offset, dt.Length - c.Offset), dr.View, dy.View, geometry, algorithm);
        backend.Stream.Synchronize();
        // Each output sums Cin·k·k ≤ 153 products plus three addends; the kernels sum in another order than the CPU.
        Close.Assert(expected, dy.GetAsArray1D(), what: $"{algorithm} {c}");
    }

    private static (float[] X, float[] W, float[] Bias, float[] SampleBias, float[] Residual) Inputs(Case c)
    {
        int seed = c.ToString().Aggregate(23, (h, ch) => unchecked(h * 31 + ch)) & 0xFFFF; // stable across runs
        return (TestData.Normal((long)c.N * c.Cin * c.H * c.W, seed),
            TestData.Normal((long)c.Cout * c.Cin * c.K * c.K, seed + 1, 1f / MathF.Sqrt(c.Cin * c.K * c.K)),
            TestData.Normal(c.Cout, seed + 2),
            TestData.Normal((long)c.N * c.Stride, seed + 3),
            TestData.Normal((long)c.N * c.Cout * c.Ho * c.Wo, seed + 4));
    }

    private static float[] Fused(Backend b, Case c)
    {
        var (x, w, bias, sampleBias, residual) = Inputs(c);
        using var tx = b.Upload(x, new Shape(c.N, c.Cin, c.H, c.W));
        using var tw = b.Upload(w, new Shape(c.Cout, c.Cin, c.K, c.K));
        using var tb = b.Upload(bias, new Shape(c.Cout));
        using var tt = b.Upload(sampleBias, new Shape(c.N, c.Stride));
        using var tr = b.Upload(residual, new Shape(c.N, c.Cout, c.Ho, c.Wo));
        using var ty = b.Allocate(c.N, c.Cout, c.Ho, c.Wo);
        b.Conv2dWithSampleBias(tx, tw, tb, tt, c.Offset, ty, 1, c.Padding, c.Residual ? tr : null, c.Scale);
        return ty.ToArray();
    }

    /// <summary>The two steps the fusion replaces: the conv, then y += s·sampleBias[n, offset + c].</summary>
    private static float[] Unfused(Backend b, Case c)
    {
        var (x, w, bias, sampleBias, residual) = Inputs(c);
        for (int i = 0; i < sampleBias.Length; i++) sampleBias[i] *= c.Scale;
        using var tx = b.Upload(x, new Shape(c.N, c.Cin, c.H, c.W));
        using var tw = b.Upload(w, new Shape(c.Cout, c.Cin, c.K, c.K));
        using var tb = b.Upload(bias, new Shape(c.Cout));
        using var tt = b.Upload(sampleBias, new Shape(c.N, c.Stride));
        using var tr = b.Upload(residual, new Shape(c.N, c.Cout, c.Ho, c.Wo));
        using var ty = b.Allocate(c.N, c.Cout, c.Ho, c.Wo);
        b.Conv2d(tx, tw, tb, ty, 1, c.Padding, c.Residual ? tr : null, c.Scale);
        b.AddChannelBias(ty, tt, c.Offset, ty);
        return ty.ToArray();
    }
}
