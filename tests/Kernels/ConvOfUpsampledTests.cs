using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

/// <summary>
/// The conv that reads its input through a nearest ×2 upsample (an up block's Upsample2D) against the upsample followed
/// by the conv it replaces, on the CPU backend and the ILGPU kernels.
/// </summary>
public class ConvOfUpsampledTests
{
    /// <summary>x [n, cin, h, w] upsampled to [n, cin, 2h, 2w], then conv by [cout, cin, k, k].</summary>
    public sealed record Case(int N, int Cin, int H, int W, int Cout, int K, int Stride, int Padding)
    {
        public int Ho => (2 * H + 2 * Padding - K) / Stride + 1;
        public int Wo => (2 * W + 2 * Padding - K) / Stride + 1;

        public override string ToString() => $"{N}x{Cin}x{H}x{W} up2 ->{Cout} k{K} s{Stride} p{Padding}";
    }

    private static IEnumerable<Case> EmulatorCases()
    {
        yield return new Case(2, 3, 3, 5, 5, 3, 1, 1);   // odd sizes; a pixel tile spans both images
        yield return new Case(1, 4, 4, 3, 65, 1, 1, 0);  // 1×1, 65 channels: one past a channel tile
        yield return new Case(2, 3, 5, 4, 3, 3, 2, 1);   // stride 2 over the upsampled map
        yield return new Case(1, 2, 2, 3, 3, 3, 1, 2);   // more padding than the kernel reaches
    }

    private static IEnumerable<Case> CudaCases()
    {
        yield return new Case(1, 256, 8, 8, 256, 3, 1, 1);   // a DDPM-CIFAR upsampler (8×8 → 16×16)
        yield return new Case(3, 17, 13, 11, 130, 3, 1, 1);
    }

    private static IEnumerable<TestCaseData> KernelCases() => GpuTargets.Cases(EmulatorCases(), CudaCases());

    private static IEnumerable<Case> CpuCases() =>
        [.. EmulatorCases(), new Case(2, 16, 5, 7, 17, 3, 1, 1)]; // and a Winograd shape (≥ 16 channels, 3×3, stride 1)

    [TestCaseSource(nameof(CpuCases))]
    public void CpuFusedIsTheUpsampleThenConvBitForBit(Case c)
    {
        // The CPU backend upsamples into scratch and runs the same conv: the bits of the two ops.
        var b = TestBackends.Cpu;
        Close.Identical(Unfused(b, c), Fused(b, c), $"cpu {c}");
    }

    [TestCaseSource(nameof(KernelCases))]
    public void TiledKernelMatchesCpu(Case c, string device) => CompareKernel(c, Conv2dAlgorithm.Tiled, device);

    [TestCaseSource(nameof(KernelCases))]
    public void DirectKernelMatchesCpu(Case c, string device) => CompareKernel(c, Conv2dAlgorithm.Direct, device);

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void IlgpuFusedIsTheUpsampleThenConvBitForBit(string device)
    {
        // The gather reads the same values in the same K order as from the materialised upsample: the same sums.
        var b = TestBackends.Get(device);
        var c = new Case(2, 3, 3, 5, 5, 3, 1, 1);
        Close.Identical(Unfused(b, c), Fused(b, c), $"{device} {c}");
    }

    [Test]
    public void WrongOutputShapeNamesTheUpsampledInput()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(1, 3, 4, 4);
        using var w = b.Allocate(2, 3, 3, 3);
        using var y = b.Allocate(1, 2, 4, 4); // the upsampled 8×8 with padding 1 gives 8×8
        var e = Assert.Throws<ShapeMismatchException>(() => b.Conv2dOfUpsampled(x, w, null, y, padding: 1))!;
        Assert.That(e.Message, Does.Contain("nearest").And.Contain(new Shape(1, 3, 8, 8).ToString()).And.Contain(y.Shape.ToString()));
    }

    /// <summary>Direct use of the kernels with <see cref="Conv2dGeometry.InputShift"/> = 1, against the CPU backend's two ops.</summary>
    private static void CompareKernel(Case c, Conv2dAlgorithm algorithm, string device)
    {
        var (x, w, bias) = Inputs(c);
        var expected = Unfused(TestBackends.Cpu, c);
        var backend = TestBackends.Ilgpu(device);
        var kernels = new Conv2dKernels(backend.Accelerator);
        var accelerator = backend.Accelerator;
        using var dx = accelerator.Allocate1D(x);
        using var dw = accelerator.Allocate1D(w);
        using var db = accelerator.Allocate1D(bias);
        using var dy = accelerator.Allocate1D<float>(expected.Length);
        dy.View.MemSet(backend.Stream, 0xFF); // NaN: every output must be written
        var geometry = new Conv2dGeometry
        {
            Batch = c.N,
            InChannels = c.Cin,
            Height = 2 * c.H,
            Width = 2 * c.W,
            InputShift = 1,
            OutChannels = c.Cout,
            KernelHeight = c.K,
            KernelWidth = c.K,
            OutHeight = c.Ho,
            OutWidth = c.Wo,
            Stride = c.Stride,
            Padding = c.Padding,
            HasBias = 1,
            Scale = 1f,
        };
        kernels.Run(backend.Stream, dx.View, dw.View, db.View, dy.View, dy.View, geometry, algorithm);
        backend.Stream.Synchronize();
        // Sums of Cin·k·k ≤ 2304 products in another order than the CPU's: fp32, 1e-5 of the largest output.
        Close.Assert(expected, dy.GetAsArray1D(), what: $"{algorithm} {c}");
    }

    private static (float[] X, float[] W, float[] Bias) Inputs(Case c)
    {
        int seed = c.ToString().Aggregate(29, (h, ch) => unchecked(h * 31 + ch)) & 0xFFFF; // stable across runs
        return (TestData.Normal((long)c.N * c.Cin * c.H * c.W, seed),
            TestData.Normal((long)c.Cout * c.Cin * c.K * c.K, seed + 1, 1f / MathF.Sqrt(c.Cin * c.K * c.K)),
            TestData.Normal(c.Cout, seed + 2));
    }

    private static float[] Fused(Backend b, Case c)
    {
        var (x, w, bias) = Inputs(c);
        using var tx = b.Upload(x, new Shape(c.N, c.Cin, c.H, c.W));
        using var tw = b.Upload(w, new Shape(c.Cout, c.Cin, c.K, c.K));
        using var tb = b.Upload(bias, new Shape(c.Cout));
        using var ty = b.Allocate(c.N, c.Cout, c.Ho, c.Wo);
        b.Conv2dOfUpsampled(tx, tw, tb, ty, c.Stride, c.Padding);
        return ty.ToArray();
    }

    /// <summary>The two steps the fusion replaces: nearest ×2 into a tensor, then the conv.</summary>
    private static float[] Unfused(Backend b, Case c)
    {
        var (x, w, bias) = Inputs(c);
        using var tx = b.Upload(x, new Shape(c.N, c.Cin, c.H, c.W));
        using var tw = b.Upload(w, new Shape(c.Cout, c.Cin, c.K, c.K));
        using var tb = b.Upload(bias, new Shape(c.Cout));
        using var up = b.Allocate(c.N, c.Cin, 2 * c.H, 2 * c.W);
        using var ty = b.Allocate(c.N, c.Cout, c.Ho, c.Wo);
        b.UpsampleNearest2x(tx, up);
        b.Conv2d(up, tw, tb, ty, c.Stride, c.Padding);
        return ty.ToArray();
    }
}
