using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Kernels.TensorCore;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

/// <summary>
/// The ops that read an up block's cat(hidden, skip) in place (GroupNorm and conv of a concat) against the concat
/// followed by the op they replace: bit for bit on the CPU backend and within each backend, and the ILGPU kernels
/// (fp32 tiled and direct, TF32 tensor-core) against the CPU twin.
/// </summary>
public class OfConcatTests
{
    private IlgpuBackend? _tf32;

    [OneTimeSetUp]
    public void Open() => _tf32 = (IlgpuBackend)Devices.Create("ilgpu-cpu", Precision.Tf32); // its own: the shared emulator stays fp32

    [OneTimeTearDown]
    public void DisposeTf32() => _tf32?.Dispose();

    /// <summary>a [n, ca, h, w] and b [n, cb, h, w] normalised as [n, ca + cb, h, w] in <paramref name="Groups"/> groups.</summary>
    public sealed record NormCase(int N, int Ca, int Cb, int H, int W, int Groups)
    {
        public override string ToString() => $"{N}x({Ca}+{Cb})x{H}x{W} g{Groups}";
    }

    // Seams inside a group (3 | 5 in groups of 2; 5 | 7 in groups of 4; 15 | 15 in groups of 10), on a group boundary
    // (6 | 2), odd H/W, batch 2; the last two are large enough for the CPU twin's parallel path.
    private static IEnumerable<NormCase> NormCases() =>
    [
        new(2, 3, 5, 3, 5, 4),
        new(1, 5, 7, 4, 3, 3),
        new(2, 6, 2, 5, 5, 4),
        new(2, 15, 15, 3, 3, 3),
        new(1, 18, 14, 32, 33, 8),
        new(2, 20, 12, 17, 31, 8),
    ];

    private static IEnumerable<TestCaseData> NormKernelCases() => GpuTargets.Cases(NormCases().Take(4));

    [TestCaseSource(nameof(NormCases))]
    public void CpuGroupNormOfConcatIsTheConcatThenNormBitForBit(NormCase c)
    {
        foreach (var act in new[] { Activation.Identity, Activation.SiLU })
            Close.Identical(NormUnfused(TestBackends.Cpu, c, act), NormFused(TestBackends.Cpu, c, act), $"cpu {c} {act}");
    }

    [TestCaseSource(nameof(NormKernelCases))]
    public void IlgpuGroupNormOfConcatMatchesTheCpuTwin(NormCase c, string device)
    {
        var b = TestBackends.Get(device);
        var fused = NormFused(b, c, Activation.SiLU);
        // The kernel sums each group in the order it would over the concatenated tensor: the same bits as its own concat + norm.
        Close.Identical(NormUnfused(b, c, Activation.SiLU), fused, $"{device} {c} fused vs unfused");
        // fp32 sums of ≤ 1,000 elements in the kernel's order against the twin's double sums: 1e-5 of the largest output.
        Close.Assert(NormUnfused(TestBackends.Cpu, c, Activation.SiLU), fused, 1e-5, $"{device} {c} vs cpu");
    }

    [Test]
    public void MismatchedInputsAreNamed()
    {
        var b = TestBackends.Cpu;
        using var a = b.Allocate(1, 2, 4, 4);
        using var s = b.Allocate(1, 2, 4, 5);
        using var g = b.Allocate(4);
        using var y = b.Allocate(1, 4, 4, 4);
        var e = Assert.Throws<ShapeMismatchException>(() => b.GroupNormOfConcat(a, s, g, g, y, 2, 1e-5f, Activation.Identity))!;
        Assert.That(e.Message, Does.Contain("group norm of concat").And.Contain(a.Shape.ToString()).And.Contain(s.Shape.ToString()));
        using var w = b.Allocate(3, 4, 1, 1);
        using var yc = b.Allocate(1, 3, 4, 4);
        e = Assert.Throws<ShapeMismatchException>(() => b.Conv2dOfConcat(a, s, w, null, yc))!;
        Assert.That(e.Message, Does.Contain("conv2d of concat").And.Contain(s.Shape.ToString()));
        using var s2 = b.Allocate(1, 3, 4, 4); // 2 + 3 input channels, the weight takes 4
        e = Assert.Throws<ShapeMismatchException>(() => b.Conv2dOfConcat(a, s2, w, null, yc))!;
        Assert.That(e.Message, Does.Contain("conv2d of concat").And.Contain(w.Shape.ToString()));
    }

    /// <summary>cat(a [n, ca, h, w], b [n, cb, h, w]) convolved by [cout, ca + cb, k, k], optionally with a residual and scale.</summary>
    public sealed record ConvCase(int N, int Ca, int Cb, int H, int W, int Cout, int K, int Stride, int Padding, bool Residual, float Scale)
    {
        public int Ho => (H + 2 * Padding - K) / Stride + 1;
        public int Wo => (W + 2 * Padding - K) / Stride + 1;

        public override string ToString() => $"{N}x({Ca}+{Cb})x{H}x{W} ->{Cout} k{K} s{Stride} p{Padding}{(Residual ? " +res" : "")} x{Scale}";
    }

    // A 1×1 shortcut with odd widths and a seam inside a 16-deep K slice; 65 outputs (one past a channel tile); 3×3 with
    // padding and both images in one pixel tile; stride 2; a residual with scale.
    private static IEnumerable<ConvCase> ConvCases() =>
    [
        new(2, 5, 7, 3, 5, 9, 1, 1, 0, false, 1f),
        new(1, 13, 4, 5, 3, 65, 1, 1, 0, true, 1f),
        new(2, 3, 2, 5, 7, 5, 3, 1, 1, false, 1f),
        new(1, 4, 3, 7, 6, 6, 3, 2, 1, true, 0.5f),
    ];

    // And on the CPU: a Winograd shape (≥ 16 channels, 3×3 stride 1) and a pointwise conv large enough to run in parallel.
    private static IEnumerable<ConvCase> CpuConvCases() =>
        [.. ConvCases(), new(2, 9, 8, 7, 9, 17, 3, 1, 1, false, 1f), new(1, 40, 24, 16, 16, 32, 1, 1, 0, true, 1f)];

    private static IEnumerable<TestCaseData> ConvKernelCases() => GpuTargets.Cases(ConvCases());

    [TestCaseSource(nameof(CpuConvCases))]
    public void CpuConvOfConcatIsTheConcatThenConvBitForBit(ConvCase c)
    {
        var b = TestBackends.Cpu;
        Close.Identical(ConvUnfused(b, c, declare: false), ConvFused(b, c, declare: false), $"cpu {c}");
        // Weights declared (as a compiled plan declares them) take the packed or Winograd path; the bits stay.
        Close.Identical(ConvUnfused(b, c, declare: true), ConvFused(b, c, declare: true), $"cpu {c} declared");
    }

    [TestCaseSource(nameof(ConvKernelCases))]
    public void IlgpuConvOfConcatMatchesTheCpuTwin(ConvCase c, string device)
    {
        var b = TestBackends.Get(device);
        var fused = ConvFused(b, c, declare: true);
        // The gather reads the concat's values in the same K order: the same bits as the backend's concat + conv.
        Close.Identical(ConvUnfused(b, c, declare: true), fused, $"{device} {c} fused vs unfused");
        // Sums of ≤ 108 products in another order than the CPU's: fp32, 1e-5 of the largest output.
        Close.Assert(ConvUnfused(TestBackends.Cpu, c, declare: false), fused, 1e-5, $"{device} {c} vs cpu");
    }

    [TestCaseSource(nameof(ConvKernelCases))]
    public void DirectKernelReadsTheConcat(ConvCase c, string device)
    {
        // The correctness baseline kernel, launched directly with the skip view.
        var backend = TestBackends.Ilgpu(device);
        var (a, s, w, bias, residual) = ConvInputs(c);
        var expected = ConvUnfused(TestBackends.Cpu, c, declare: false);
        var acc = backend.Accelerator;
        using var da = acc.Allocate1D(a);
        using var ds = acc.Allocate1D(s);
        using var dw = acc.Allocate1D(w);
        using var db = acc.Allocate1D(bias);
        using var dy = acc.Allocate1D(residual);
        var geometry = new Conv2dGeometry
        {
            Batch = c.N,
            InChannels = c.Ca + c.Cb,
            SkipChannels = c.Cb,
            Height = c.H,
            Width = c.W,
            OutChannels = c.Cout,
            KernelHeight = c.K,
            KernelWidth = c.K,
            OutHeight = c.Ho,
            OutWidth = c.Wo,
            Stride = c.Stride,
            Padding = c.Padding,
            HasBias = 1,
            HasResidual = c.Residual ? 1 : 0,
            Scale = c.Scale,
        };
        if (!c.Residual) dy.View.MemSet(backend.Stream, 0xFF); // NaN: every output must be written
        new Conv2dKernels(acc).Run(backend.Stream, da.View, ds.View, dw.View, db.View, dy.View, dy.View, dy.View, geometry, Conv2dAlgorithm.Direct);
        backend.Stream.Synchronize();
        Close.Assert(expected, dy.GetAsArray1D(), 1e-5, $"direct {c}");
    }

    [TestCaseSource(nameof(ConvCases))]
    public void Tf32ConvOfConcatMatchesTheCpuTwinOnRoundedInputs(ConvCase c)
    {
        var fused = ConvFused(_tf32!, c, declare: true);
        // The tensor-core gather too reads the concat's values in the same K order: the bits of its concat + conv.
        Close.Identical(ConvUnfused(_tf32!, c, declare: true), fused, $"tf32 {c} fused vs unfused");
        // On TF32-rounded inputs the CPU twin differs by summation order only (≤ 108 products): fp32 bound 1e-5.
        var rounded = ConvUnfused(TestBackends.Cpu, c, declare: false, round: true);
        Close.Assert(rounded, fused, 1e-5, $"tf32 {c} vs cpu on rounded inputs");
        // ... and the tensor-core kernel did run: fp32 inputs give other bits.
        Assert.That(fused.SequenceEqual(ConvUnfused(TestBackends.Cpu, c, declare: false)), Is.False, "tf32 equals fp32: the tier was not used");
    }

    private static (float[] A, float[] B, float[] Gamma, float[] Beta) NormInputs(NormCase c)
    {
        int seed = Seed(c.ToString());
        int plane = c.H * c.W;
        // A far-off mean in the skip: a group straddling the seam must take its moments over both halves.
        var skip = TestData.Normal((long)c.N * c.Cb * plane, seed + 1, 2f).Select(v => v + 3f).ToArray();
        return (TestData.Normal((long)c.N * c.Ca * plane, seed), skip,
            TestData.Normal(c.Ca + c.Cb, seed + 2), TestData.Normal(c.Ca + c.Cb, seed + 3));
    }

    private static float[] NormFused(Backend b, NormCase c, Activation act)
    {
        var (a, s, gamma, beta) = NormInputs(c);
        using var ta = b.Upload(a, new Shape(c.N, c.Ca, c.H, c.W));
        using var ts = b.Upload(s, new Shape(c.N, c.Cb, c.H, c.W));
        using var tg = b.Upload(gamma, new Shape(c.Ca + c.Cb));
        using var tb = b.Upload(beta, new Shape(c.Ca + c.Cb));
        using var ty = b.Upload(Enumerable.Repeat(float.NaN, c.N * (c.Ca + c.Cb) * c.H * c.W).ToArray(), new Shape(c.N, c.Ca + c.Cb, c.H, c.W));
        b.GroupNormOfConcat(ta, ts, tg, tb, ty, c.Groups, 1e-5f, act);
        return ty.ToArray();
    }

    /// <summary>The two steps the fusion replaces: the concat into a tensor, then the GroupNorm.</summary>
    private static float[] NormUnfused(Backend b, NormCase c, Activation act)
    {
        var (a, s, gamma, beta) = NormInputs(c);
        using var ta = b.Upload(a, new Shape(c.N, c.Ca, c.H, c.W));
        using var ts = b.Upload(s, new Shape(c.N, c.Cb, c.H, c.W));
        using var tg = b.Upload(gamma, new Shape(c.Ca + c.Cb));
        using var tb = b.Upload(beta, new Shape(c.Ca + c.Cb));
        using var cat = b.Allocate(c.N, c.Ca + c.Cb, c.H, c.W);
        using var ty = b.Allocate(c.N, c.Ca + c.Cb, c.H, c.W);
        b.ConcatChannels(ta, ts, cat);
        b.GroupNorm(cat, tg, tb, ty, c.Groups, 1e-5f, act);
        return ty.ToArray();
    }

    private static (float[] A, float[] B, float[] W, float[] Bias, float[] Residual) ConvInputs(ConvCase c)
    {
        int seed = Seed(c.ToString());
        int cin = c.Ca + c.Cb;
        return (TestData.Normal((long)c.N * c.Ca * c.H * c.W, seed), TestData.Normal((long)c.N * c.Cb * c.H * c.W, seed + 1),
            TestData.Normal((long)c.Cout * cin * c.K * c.K, seed + 2, 1f / MathF.Sqrt(cin * c.K * c.K)),
            TestData.Normal(c.Cout, seed + 3), TestData.Normal((long)c.N * c.Cout * c.Ho * c.Wo, seed + 4));
    }

    private static float[] ConvFused(Backend b, ConvCase c, bool declare)
    {
        var (a, s, w, bias, residual) = ConvInputs(c);
        using var ta = b.Upload(a, new Shape(c.N, c.Ca, c.H, c.W));
        using var ts = b.Upload(s, new Shape(c.N, c.Cb, c.H, c.W));
        using var tw = b.Upload(w, new Shape(c.Cout, c.Ca + c.Cb, c.K, c.K));
        using var tb = b.Upload(bias, new Shape(c.Cout));
        // The residual is y itself, as conv2's is in a resnet; without one y starts as NaN, so every output must be written.
        using var ty = b.Upload(c.Residual ? residual : [.. residual.Select(_ => float.NaN)], new Shape(c.N, c.Cout, c.Ho, c.Wo));
        if (declare) b.PrepareConv2dWeights(tw, c.Stride);
        b.Conv2dOfConcat(ta, ts, tw, tb, ty, c.Stride, c.Padding, c.Residual ? ty : null, c.Scale);
        return ty.ToArray();
    }

    /// <summary>The two steps the fusion replaces: the concat into a tensor, then the conv (on TF32-rounded inputs with <paramref name="round"/>).</summary>
    private static float[] ConvUnfused(Backend b, ConvCase c, bool declare, bool round = false)
    {
        var (a, s, w, bias, residual) = ConvInputs(c);
        if (round) (a, s, w) = ([.. a.Select(TensorCoreGemmTests.RoundTf32)], [.. s.Select(TensorCoreGemmTests.RoundTf32)], [.. w.Select(TensorCoreGemmTests.RoundTf32)]);
        using var ta = b.Upload(a, new Shape(c.N, c.Ca, c.H, c.W));
        using var ts = b.Upload(s, new Shape(c.N, c.Cb, c.H, c.W));
        using var tw = b.Upload(w, new Shape(c.Cout, c.Ca + c.Cb, c.K, c.K));
        using var tb = b.Upload(bias, new Shape(c.Cout));
        using var cat = b.Allocate(c.N, c.Ca + c.Cb, c.H, c.W);
        using var ty = b.Upload(residual, new Shape(c.N, c.Cout, c.Ho, c.Wo));
        if (declare) b.PrepareConv2dWeights(tw, c.Stride);
        b.ConcatChannels(ta, ts, cat);
        b.Conv2d(cat, tw, tb, ty, c.Stride, c.Padding, c.Residual ? ty : null, c.Scale);
        return ty.ToArray();
    }

    private static int Seed(string name) => name.Aggregate(37, (h, ch) => unchecked(h * 31 + ch)) & 0xFFFF; // stable across runs
}
