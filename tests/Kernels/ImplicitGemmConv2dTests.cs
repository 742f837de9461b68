using DiffusionKernels.Kernels.Cpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

// Twin tests of the implicit-GEMM convolution (fused im2col packing, pre-packed weights) against the im2col + SGEMM
// convolution it replaced, on random odd shapes that cross every edge: output channels not a multiple of the
// micro-kernel's rows, pixels not a multiple of its columns, several depth blocks, pixel blocks split mid-row, 1×1,
// stride 2, 3 input channels, and batch-1 small images (split over output channels).
// Tolerance: both sum the same ≤ 1500 products per output in fp32, in different orders (depth blocks of 192 or 256
// against one pass per block); the error bound ~K·ε·Σ|terms| stays under 1e-5 of the largest output for these
// normal inputs, so the Close.Assert default (1e-5 relative to the max magnitude) holds with margin.
public class ImplicitGemmConv2dTests
{
    public sealed record Shape2d(int N, int Cin, int H, int W, int Cout, int K, int Stride, int Padding, int ExtraPad,
        bool Bias, bool Residual, float Scale)
    {
        public int Ho => (H + 2 * Padding + ExtraPad - K) / Stride + 1;
        public int Wo => (W + 2 * Padding + ExtraPad - K) / Stride + 1;

        public override string ToString() =>
            $"{N}x{Cin}x{H}x{W}->{Cout} k{K} s{Stride} p{Padding}+{ExtraPad}{(Bias ? " bias" : "")}{(Residual ? " res" : "")} x{Scale}";
    }

    private static IEnumerable<Shape2d> Shapes()
    {
        // Named cases for the specialised paths…
        yield return new Shape2d(1, 3, 33, 31, 37, 3, 1, 1, 0, true, false, 1f);      // 3→C (conv_in), one depth block of 27
        yield return new Shape2d(2, 70, 9, 11, 25, 3, 1, 1, 0, true, true, 0.7071f);  // 630 deep: several depth blocks
        yield return new Shape2d(3, 41, 13, 29, 19, 1, 1, 0, 0, true, true, 0.5f);    // 1×1: the direct GEMM
        yield return new Shape2d(1, 23, 45, 47, 13, 1, 1, 0, 0, false, false, 1f);    // 1×1, several pixel blocks
        yield return new Shape2d(2, 17, 33, 35, 29, 3, 2, 1, 0, true, false, 1f);     // stride 2, padding 1
        yield return new Shape2d(1, 19, 17, 15, 21, 3, 2, 0, 1, true, false, 1f);     // diffusers downsample (pad bottom/right)
        yield return new Shape2d(1, 64, 5, 3, 50, 3, 1, 1, 0, false, true, 2f);       // batch 1, tiny image: channel split
        // Channel split above the parallel threshold: the input panels are gathered once and shared by the items.
        yield return new Shape2d(1, 130, 9, 11, 77, 3, 1, 1, 0, true, true, 0.5f);   // one pixel block, 5 depth blocks
        yield return new Shape2d(1, 40, 17, 19, 61, 3, 1, 1, 0, true, false, 1f);    // 3 pixel blocks, 2 depth blocks
        yield return new Shape2d(1, 96, 8, 8, 64, 1, 1, 0, 0, false, true, 1f);      // 1×1 at 8×8: shared direct panels
        yield return new Shape2d(1, 6, 61, 67, 5, 3, 1, 1, 0, true, true, 1f);        // many pixel blocks, split mid-row
        yield return new Shape2d(2, 5, 12, 9, 7, 5, 3, 2, 0, true, false, 1f);        // stride 3, 5×5: the generic gather
        yield return new Shape2d(1, 4, 3, 3, 6, 3, 1, 2, 0, false, false, 1f);        // more padding than input
        // …and random odd ones (fixed seed, so a failure reproduces).
        var rng = new Random(20);
        for (int i = 0; i < 8; i++)
        {
            int k = rng.Next(3) switch { 0 => 1, 1 => 3, _ => 2 };
            int stride = rng.Next(2) + 1;
            int padding = k == 1 ? 0 : rng.Next(2);
            yield return new Shape2d(rng.Next(1, 4), rng.Next(1, 40) | 1, rng.Next(3, 30) | 1, rng.Next(3, 30) | 1,
                rng.Next(1, 40) | 1, k, stride, padding, rng.Next(4) == 0 ? 1 : 0, rng.Next(2) == 0, rng.Next(2) == 0,
                rng.Next(2) == 0 ? 1f : 0.75f);
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void MatchesIm2colConvolution(Shape2d c)
    {
        var (x, w, bias, residual) = Inputs(c);
        var expected = Run(c, y => Conv2d.Forward(x, w, c.Bias ? bias : default, c.Residual ? residual : default, y,
            c.N, c.Cin, c.H, c.W, c.Cout, c.K, c.K, c.Ho, c.Wo, c.Stride, c.Padding, c.Scale));
        var perCall = Run(c, y => ImplicitGemmConv2d.Forward(x, w, c.Bias ? bias : default, c.Residual ? residual : default, y,
            c.N, c.Cin, c.H, c.W, c.Cout, c.K, c.K, c.Ho, c.Wo, c.Stride, c.Padding, c.Scale));
        var packed = new PackedConvWeights(w, c.Cout, c.Cin * c.K * c.K);
        var prePacked = Run(c, y => ImplicitGemmConv2d.Forward(x, packed, c.Bias ? bias : default, c.Residual ? residual : default, y,
            c.N, c.Cin, c.H, c.W, c.Cout, c.K, c.K, c.Ho, c.Wo, c.Stride, c.Padding, c.Scale));
        Close.Assert(expected, perCall, what: $"weights packed per call {c}");
        Close.Identical(perCall, prePacked, what: $"pre-packed weights {c}");
    }

    [Test]
    public void ResidualMayBeTheOutput()
    {
        var c = new Shape2d(1, 130, 9, 11, 77, 3, 1, 1, 0, true, true, 0.5f); // split over output channels, shared panels
        var (x, w, bias, residual) = Inputs(c);
        var expected = Run(c, y => Conv2d.Forward(x, w, bias, residual, y,
            c.N, c.Cin, c.H, c.W, c.Cout, c.K, c.K, c.Ho, c.Wo, c.Stride, c.Padding, c.Scale));
        var inPlace = (float[])residual.Clone();
        ImplicitGemmConv2d.Forward(x, w, bias, inPlace, inPlace, c.N, c.Cin, c.H, c.W, c.Cout, c.K, c.K, c.Ho, c.Wo, c.Stride, c.Padding, c.Scale);
        Close.Assert(expected, inPlace, what: "in-place residual");
    }

    [Test]
    public void PackedWeightsOfTheWrongShapeAreRefused()
    {
        var packed = new PackedConvWeights(new float[6 * 18], 6, 18);
        var e = Assert.Throws<ArgumentException>(() => ImplicitGemmConv2d.Forward(new float[4 * 9], packed, default, default,
            new float[6 * 9], 1, 1, 3, 3, 6, 3, 3, 3, 3, 1, 1, 1f))!;
        Assert.That(e.Message, Does.Contain("[6, 18]").And.Contain("[6, 9]"));
    }

    [Test]
    public void BackendUsesDeclaredWeightsUntilTheyAreRewritten()
    {
        var c = new Shape2d(2, 13, 9, 10, 14, 3, 1, 1, 0, true, false, 1f);
        var (x, w, bias, residual) = Inputs(c);
        var w2 = TestData.Normal(w.Length, 99, 0.1f);
        var b = new CpuBackend();
        using var tx = b.Upload(x, new Shape(c.N, c.Cin, c.H, c.W));
        using var tw = b.Upload(w, new Shape(c.Cout, c.Cin, c.K, c.K));
        using var tb = b.Upload(bias, new Shape(c.Cout));
        using var ty = b.Allocate(c.N, c.Cout, c.Ho, c.Wo);
        b.PrepareConv2dWeights(tw);
        b.PrepareConv2dWeights(tw); // again: a no-op
        b.Conv2d(tx, tw, tb, ty, c.Stride, c.Padding);
        var expected = Run(c, y => Conv2d.Forward(x, w, bias, default, y, c.N, c.Cin, c.H, c.W, c.Cout, c.K, c.K, c.Ho, c.Wo, c.Stride, c.Padding, 1f));
        Close.Assert(expected, ty.ToArray(), what: "declared weights");

        // A host write must not leave the old packed copy in use.
        b.CopyFromHost(w2, tw);
        b.Conv2d(tx, tw, tb, ty, c.Stride, c.Padding);
        var expected2 = Run(c, y => Conv2d.Forward(x, w2, bias, default, y, c.N, c.Cin, c.H, c.W, c.Cout, c.K, c.K, c.Ho, c.Wo, c.Stride, c.Padding, 1f));
        Close.Assert(expected2, ty.ToArray(), what: "rewritten weights");
        b.Fill(tw, 0f);
        b.Conv2d(tx, tw, tb, ty, c.Stride, c.Padding);
        var biasOnly = ty.ToArray();
        for (int i = 0; i < biasOnly.Length; i++)
            Assert.That(biasOnly[i], Is.EqualTo(bias[i / (c.Ho * c.Wo) % c.Cout]), "filled weights leave the bias alone");
    }

    /// <summary>Runs <paramref name="conv"/> into an output first set to NaN so every output must be written.</summary>
    private static float[] Run(Shape2d c, Action<float[]> conv)
    {
        var y = new float[c.N * c.Cout * c.Ho * c.Wo];
        Array.Fill(y, float.NaN);
        conv(y);
        return y;
    }

    private static (float[] X, float[] W, float[] Bias, float[] Residual) Inputs(Shape2d c)
    {
        int seed = c.ToString().Aggregate(23, (h, ch) => unchecked(h * 31 + ch)) & 0xFFFF;
        return (TestData.Normal((long)c.N * c.Cin * c.H * c.W, seed),
            TestData.Normal((long)c.Cout * c.Cin * c.K * c.K, seed + 1, 1f / MathF.Sqrt(c.Cin * c.K * c.K)),
            TestData.Normal(c.Cout, seed + 2),
            TestData.Normal((long)c.N * c.Cout * c.Ho * c.Wo, seed + 3));
    }
}
