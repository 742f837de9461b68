using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class TokenLayoutTests
{
    private static float[] NaiveToTokens(float[] x, int n, int c, int h, int w)
    {
        var y = new float[x.Length];
        for (int s = 0; s < n; s++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        y[(s * h * w + i * w + j) * c + ch] = x[((s * c + ch) * h + i) * w + j];
        return y;
    }

    private static float[] NaiveToNchw(float[] x, float[]? residual, float scale, int n, int c, int h, int w)
    {
        var y = new float[x.Length];
        for (int s = 0; s < n; s++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < h * w; p++)
                {
                    int at = (s * c + ch) * h * w + p;
                    y[at] = (x[(s * h * w + p) * c + ch] + (residual?[at] ?? 0f)) * scale;
                }
        return y;
    }

    private static float[] ToTokens(Backend b, float[] x, int n, int c, int h, int w)
    {
        using var tx = b.Upload(x, new Shape(n, c, h, w));
        using var ty = b.Allocate(n, h * w, c);
        b.NchwToTokens(tx, ty);
        return ty.ToArray();
    }

    private static float[] ToNchw(Backend b, float[] x, float[]? residual, float scale, int n, int c, int h, int w)
    {
        using var tx = b.Upload(x, new Shape(n, h * w, c));
        using var tr = residual is null ? null : b.Upload(residual, new Shape(n, c, h, w));
        using var ty = b.Allocate(n, c, h, w);
        b.TokensToNchw(tx, ty, tr, scale);
        return ty.ToArray();
    }

    // Odd sizes, sizes with 8×8 and 32×32 tile edges, and sizes that take the parallel path.
    [TestCase(1, 3, 7, 5)]
    [TestCase(2, 37, 9, 11)]
    [TestCase(1, 8, 4, 2)]
    [TestCase(3, 64, 32, 32)]
    [TestCase(2, 129, 17, 15)]
    public void CpuMatchesNaiveAndRoundTrips(int n, int c, int h, int w)
    {
        var x = TestData.Normal(n * c * h * w, c + h);
        var tokens = ToTokens(TestBackends.Cpu, x, n, c, h, w);
        Close.Identical(NaiveToTokens(x, n, c, h, w), tokens, "to tokens");
        Close.Identical(x, ToNchw(TestBackends.Cpu, tokens, null, 1f, n, c, h, w), "round trip");
    }

    [TestCase(1, 3, 7, 5, 0.7f)]
    [TestCase(2, 96, 33, 31, 1f / 1.41421356f)]
    [TestCase(1, 16, 8, 8, 1f)]
    public void CpuFusesResidualAndScale(int n, int c, int h, int w, float scale)
    {
        var x = TestData.Normal(n * c * h * w, 3);
        var r = TestData.Normal(n * c * h * w, 4);
        Close.Identical(NaiveToNchw(x, r, scale, n, c, h, w), ToNchw(TestBackends.Cpu, x, r, scale, n, c, h, w), "residual");
        Close.Identical(NaiveToNchw(x, null, scale, n, c, h, w), ToNchw(TestBackends.Cpu, x, null, scale, n, c, h, w), "scale only");
    }

    // (n, c, h, w): odd sizes, and tiles of several samples in both directions (40 channels × 72 pixels).
    private static IEnumerable<object[]> Tiny() => [[1, 3, 7, 5], [2, 33, 5, 7], [1, 8, 6, 6], [2, 40, 9, 8]];

    // On CUDA: the model shapes, and 1500² pixels of one channel, whose 70,313 pixel tiles exceed the 65,535 groups
    // CUDA allows along a grid's y dimension (the launch is one-dimensional).
    private static IEnumerable<object[]> CudaShapes() => [[4, 256, 16, 16], [2, 128, 64, 64], [3, 37, 33, 31], [1, 1, 1500, 1500]];

    private static IEnumerable<TestCaseData> GpuCases() => GpuTargets.Cases(Tiny(), CudaShapes());

    [TestCaseSource(nameof(GpuCases))]
    public void IlgpuMatchesCpu(int n, int c, int h, int w, string device)
    {
        var b = TestBackends.Get(device);
        var x = TestData.Normal(n * c * h * w, 9);
        var r = TestData.Normal(n * c * h * w, 10);
        Close.Identical(ToTokens(TestBackends.Cpu, x, n, c, h, w), ToTokens(b, x, n, c, h, w), "to tokens");
        Close.Identical(ToNchw(TestBackends.Cpu, x, r, 0.5f, n, c, h, w), ToNchw(b, x, r, 0.5f, n, c, h, w), "residual and scale");
        Close.Identical(ToNchw(TestBackends.Cpu, x, null, 1f, n, c, h, w), ToNchw(b, x, null, 1f, n, c, h, w), "plain");
    }

    [Test]
    public void BadInputsAreRejected()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(2, 3, 4, 5);
        using var tokens = b.Allocate(2, 20, 3);
        using var wrong = b.Allocate(2, 3, 20);
        using var small = b.Allocate(2, 3, 4, 4);
        var e = Assert.Throws<ShapeMismatchException>(() => b.NchwToTokens(x, wrong));
        Assert.That(e!.Message, Does.Contain("nchw to tokens").And.Contain("[2,20,3]").And.Contain("[2,3,20]"));
        Assert.Throws<ShapeMismatchException>(() => b.TokensToNchw(wrong, x));
        var r = Assert.Throws<ShapeMismatchException>(() => b.TokensToNchw(tokens, x, small));
        Assert.That(r!.Message, Does.Contain("tokens to nchw").And.Contain("residual"));
    }
}
