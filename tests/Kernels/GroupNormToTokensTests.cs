using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

/// <summary>An attention block's GroupNorm writing its tokens (one launch) against the norm and the transpose it replaces.</summary>
public class GroupNormToTokensTests
{
    private static IEnumerable<TestCaseData> Shapes()
    {
        yield return new TestCaseData(2, 6, 3, 5, 3);   // odd spatial sizes, 3 groups of 2
        yield return new TestCaseData(1, 9, 4, 4, 9);   // one channel per group
        yield return new TestCaseData(3, 4, 1, 7, 1);   // one group
    }

    [TestCaseSource(nameof(Shapes))]
    public void CpuIsTheNormThenTransposeBitForBit(int n, int c, int h, int w, int groups)
    {
        var b = TestBackends.Cpu;
        Close.Identical(Unfused(b, n, c, h, w, groups), Fused(b, n, c, h, w, groups), "cpu");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void IlgpuIsItsNormThenTransposeBitForBitAndMatchesCpu(string device)
    {
        var b = TestBackends.Get(device);
        foreach (var (n, c, h, w, groups) in new[] { (2, 6, 3, 5, 3), (3, 4, 1, 7, 1) })
        {
            var fused = Fused(b, n, c, h, w, groups);
            // The kernel computes each value as the plain norm does and only stores it at its token position.
            Close.Identical(Unfused(b, n, c, h, w, groups), fused, $"{device} fused vs two steps");
            // The group moments are reduced in another order than the CPU's: fp32 rounding, 1e-5 of the largest output.
            Close.Assert(Fused(TestBackends.Cpu, n, c, h, w, groups), fused, what: $"{device} vs cpu");
        }
    }

    [Test]
    public void WrongOutputShapeIsRefused()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(1, 4, 3, 3);
        using var gamma = b.Allocate(4);
        using var y = b.Allocate(1, 4, 9); // NCHW-flattened, not tokens [1, 9, 4]
        var e = Assert.Throws<ShapeMismatchException>(() => b.GroupNormToTokens(x, gamma, gamma, y, 2, 1e-5f))!;
        Assert.That(e.Message, Does.Contain("group norm to tokens").And.Contain(y.Shape.ToString()));
    }

    private static (float[] X, float[] Gamma, float[] Beta) Inputs(int n, int c, int h, int w)
    {
        int seed = n * 1000 + c * 100 + h * 10 + w;
        var x = TestData.Normal((long)n * c * h * w, seed);
        for (int i = 0; i < x.Length; i++) x[i] = 3f + 2f * x[i]; // an offset mean, as activations have
        return (x, TestData.Normal(c, seed + 1), TestData.Normal(c, seed + 2));
    }

    private static float[] Fused(Backend b, int n, int c, int h, int w, int groups)
    {
        var (x, gamma, beta) = Inputs(n, c, h, w);
        using var tx = b.Upload(x, new Shape(n, c, h, w));
        using var tg = b.Upload(gamma, new Shape(c));
        using var tb = b.Upload(beta, new Shape(c));
        using var ty = b.Allocate(n, h * w, c);
        b.GroupNormToTokens(tx, tg, tb, ty, groups, 1e-5f);
        return ty.ToArray();
    }

    private static float[] Unfused(Backend b, int n, int c, int h, int w, int groups)
    {
        var (x, gamma, beta) = Inputs(n, c, h, w);
        using var tx = b.Upload(x, new Shape(n, c, h, w));
        using var tg = b.Upload(gamma, new Shape(c));
        using var tb = b.Upload(beta, new Shape(c));
        using var normed = b.Allocate(n, c, h, w);
        using var ty = b.Allocate(n, h * w, c);
        b.GroupNorm(tx, tg, tb, normed, groups, 1e-5f);
        b.NchwToTokens(normed, ty);
        return ty.ToArray();
    }
}
