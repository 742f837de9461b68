using DiffusionKernels.Kernels.Cpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

// Twin tests of the Winograd F(2×2, 3×3) convolution against the direct (im2col + SGEMM) convolution, on odd shapes:
// odd output sizes (half tiles on the bottom and right), padding 0–2, extra bottom/right padding, tiles that run
// across images, several depth blocks, output channels not a multiple of the micro-kernel's rows, and batch 1 split
// over output channels. Tolerance: the F(2,3) transforms add at most 4 terms per stage with weights ±1 or ½ (exact in
// binary), so besides the direct sum's own rounding they add a few ε of the partial sums' magnitude; for these normal
// inputs that stays well under 1e-5 of the largest output (the Close.Assert default).
public class WinogradConv2dTests
{
    public sealed record Case(int N, int Cin, int H, int W, int Cout, int Padding, int ExtraPad = 0, bool Bias = true,
        bool Residual = false, float Scale = 1f)
    {
        public int Ho => H + 2 * Padding + ExtraPad - 2;
        public int Wo => W + 2 * Padding + ExtraPad - 2;
        public override string ToString() => $"{N}x{Cin}x{H}x{W}->{Cout} p{Padding}+{ExtraPad}{(Bias ? " bias" : "")}{(Residual ? " res" : "")} x{Scale}";
    }

    private static IEnumerable<Case> Cases()
    {
        yield return new Case(1, 16, 8, 8, 16, 1);
        yield return new Case(2, 17, 9, 11, 13, 1, Residual: true, Scale: 0.7071f);  // odd sizes: half tiles
        yield return new Case(1, 300, 5, 7, 25, 1, Bias: false);                     // two depth blocks
        yield return new Case(3, 19, 4, 4, 31, 1, Residual: true);                   // 4 tiles per image: blocks span images
        yield return new Case(1, 21, 13, 6, 7, 0);                                   // no padding
        yield return new Case(2, 18, 7, 9, 11, 2, Scale: 2f);                        // more padding than the kernel's half
        yield return new Case(1, 20, 9, 9, 12, 0, ExtraPad: 1);                      // bottom/right padding only
        yield return new Case(1, 64, 3, 5, 70, 1, Residual: true);                   // batch 1, tiny image: channel split
        yield return new Case(1, 100, 16, 16, 90, 1, Residual: true);                // channel split, shared V: one block
        yield return new Case(1, 200, 15, 13, 37, 1, Scale: 0.5f);                   // channel split, shared V: two blocks
        yield return new Case(2, 24, 34, 40, 20, 1, Residual: true, Scale: 0.5f);    // 8-tile transforms, edge rows copied
        yield return new Case(1, 18, 21, 35, 19, 0, ExtraPad: 1);                    // 8-tile transforms without padding
        yield return new Case(2, 33, 31, 29, 9, 1, Residual: true);                  // many tile blocks
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesDirectConvolution(Case c)
    {
        var (x, w, bias, residual) = Inputs(c);
        var expected = Direct(c, x, w, bias, residual);
        var y = new float[expected.Length];
        Array.Fill(y, float.NaN); // every output must be written
        WinogradConv2d.Forward(x, new WinogradWeights(w, c.Cout, c.Cin), c.Bias ? bias : default, c.Residual ? residual : default, y,
            c.N, c.Cin, c.H, c.W, c.Cout, c.Ho, c.Wo, c.Padding, c.Scale);
        Close.Assert(expected, y, what: $"winograd {c}");
    }

    [Test]
    public void ResidualMayBeTheOutput()
    {
        var c = new Case(1, 64, 3, 5, 70, 1, Residual: true, Scale: 0.5f);
        var (x, w, bias, residual) = Inputs(c);
        var expected = Direct(c, x, w, bias, residual);
        var inPlace = (float[])residual.Clone();
        WinogradConv2d.Forward(x, new WinogradWeights(w, c.Cout, c.Cin), bias, inPlace, inPlace, c.N, c.Cin, c.H, c.W, c.Cout, c.Ho, c.Wo, c.Padding, c.Scale);
        Close.Assert(expected, inPlace, what: "in-place residual");
    }

    [Test]
    public void WeightsOfTheWrongShapeAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => WinogradConv2d.Forward(new float[2 * 16], new WinogradWeights(new float[3 * 4 * 9], 3, 4),
            default, default, new float[3 * 16], 1, 2, 4, 4, 3, 4, 4, 1, 1f))!;
        Assert.That(e.Message, Does.Contain("[3, 4, 3, 3]").And.Contain("[3, 2, 3, 3]"));
    }

    // 2×24×10×9 has 50 tiles (Winograd); 1×24×5×4 has 6 (too few: the implicit GEMM on weights packed at first use).
    [TestCase(2, 10, 9)]
    [TestCase(1, 5, 4)]
    public void BackendRunsDeclaredWeightsByWinogradOnlyWhenAsked(int n, int h, int width)
    {
        var c = new Case(n, 24, h, width, 20, 1);
        var (x, w, bias, residual) = Inputs(c);
        var expected = Direct(c, x, w, bias, residual);
        foreach (bool winograd in new[] { true, false })
        {
            var b = new CpuBackend { Winograd = winograd };
            using var tx = b.Upload(x, new Shape(c.N, c.Cin, c.H, c.W));
            using var tw = b.Upload(w, new Shape(c.Cout, c.Cin, 3, 3));
            using var tb = b.Upload(bias, new Shape(c.Cout));
            using var ty = b.Allocate(c.N, c.Cout, c.Ho, c.Wo);
            b.PrepareConv2dWeights(tw);
            b.Conv2d(tx, tw, tb, ty, 1, c.Padding);
            Close.Assert(expected, ty.ToArray(), what: $"winograd {winograd}");
            // The same declared weights at stride 2 (not Winograd's case) still give the strided convolution.
            using var y2 = b.Allocate(c.N, c.Cout, (c.H + 1) / 2, (c.W + 1) / 2);
            b.Conv2d(tx, tw, tb, y2, 2, c.Padding);
            var strided = new float[y2.Length];
            Conv2d.Forward(x, w, bias, default, strided, c.N, c.Cin, c.H, c.W, c.Cout, 3, 3, y2.Shape[2], y2.Shape[3], 2, c.Padding, 1f);
            Close.Assert(strided, y2.ToArray(), what: $"stride 2 with declared weights, winograd {winograd}");
        }
    }

    private static float[] Direct(Case c, float[] x, float[] w, float[] bias, float[] residual)
    {
        var y = new float[c.N * c.Cout * c.Ho * c.Wo];
        Conv2d.Forward(x, w, c.Bias ? bias : default, c.Residual ? residual : default, y, c.N, c.Cin, c.H, c.W, c.Cout, 3, 3, c.Ho, c.Wo, 1, c.Padding, c.Scale);
        return y;
    }

    private static (float[] X, float[] W, float[] Bias, float[] Residual) Inputs(Case c)
    {
        int seed = c.ToString().Aggregate(29, (h, ch) => unchecked(h * 31 + ch)) & 0xFFFF;
        return (TestData.Normal((long)c.N * c.Cin * c.H * c.W, seed),
            TestData.Normal((long)c.Cout * c.Cin * 9, seed + 1, 1f / MathF.Sqrt(c.Cin * 9)),
            TestData.Normal(c.Cout, seed + 2),
            TestData.Normal((long)c.N * c.Cout * c.Ho * c.Wo, seed + 3));
    }
}
