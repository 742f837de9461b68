using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class ResamplingTests
{
    private static float[] UpsampleReference(float[] x, int n, int c, int h, int w)
    {
        var y = new float[x.Length * 4];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < 2 * h; i++)
                for (int j = 0; j < 2 * w; j++)
                    y[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2];
        return y;
    }

    /// <summary>PyTorch's avg_pool2d(2): the window summed row by row, then divided by 4.</summary>
    private static float[] PoolReference(float[] x, int n, int c, int h, int w)
    {
        int oh = h / 2, ow = w / 2;
        var y = new float[n * c * oh * ow];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    float sum = 0;
                    for (int u = 0; u < 2; u++)
                        for (int v = 0; v < 2; v++)
                            sum += x[(p * h + 2 * i + u) * w + 2 * j + v];
                    y[(p * oh + i) * ow + j] = sum / 4;
                }
        return y;
    }

    private static float[] Upsample(Backend b, float[] x, int[] d)
    {
        using var xt = b.Upload(x, new Shape(d));
        using var yt = b.Allocate(d[0], d[1], 2 * d[2], 2 * d[3]);
        b.UpsampleNearest2x(xt, yt);
        return yt.ToArray();
    }

    private static float[] Pool(Backend b, float[] x, int[] d)
    {
        using var xt = b.Upload(x, new Shape(d));
        using var yt = b.Allocate(d[0], d[1], d[2] / 2, d[3] / 2);
        b.AvgPool2x2(xt, yt);
        return yt.ToArray();
    }

    private static int Count(int[] d) => d.Aggregate(1, (p, v) => p * v);

    // Odd sizes, SIMD tails (width 19, 37), shapes above the parallel threshold, and a row just one vector wide.
    private static readonly int[][] CpuShapes = [[1, 3, 7, 5], [2, 5, 9, 11], [1, 1, 1, 1], [4, 64, 17, 19], [2, 8, 34, 37], [1, 2, 16, 16]];
    private static readonly int[][] PoolShapes = [[1, 3, 7, 5], [2, 5, 9, 11], [1, 1, 2, 2], [4, 64, 34, 37], [2, 8, 35, 67], [1, 2, 16, 16]];
    private static readonly int[][] TinyShapes = [[1, 3, 7, 5], [2, 5, 9, 11]];

    [TestCaseSource(nameof(CpuShapes))]
    public void CpuUpsampleMatchesNaiveLoop(int[] d)
    {
        var x = TestData.Normal(Count(d), 1);
        Close.Identical(UpsampleReference(x, d[0], d[1], d[2], d[3]), Upsample(TestBackends.Cpu, x, d), "upsample");
    }

    [TestCaseSource(nameof(PoolShapes))]
    public void CpuAvgPoolMatchesNaiveLoop(int[] d)
    {
        // Same summation order as the reference, so the results are bit-identical.
        var x = TestData.Normal(Count(d), 2);
        Close.Identical(PoolReference(x, d[0], d[1], d[2], d[3]), Pool(TestBackends.Cpu, x, d), "avg pool");
    }

    private static readonly int[][] CudaShapes = [[8, 256, 16, 17], [2, 5, 33, 67], [16, 128, 32, 32], [1, 1, 1, 1]];

    private static IEnumerable<TestCaseData> GpuUpsampleCases() => GpuTargets.Cases(TinyShapes, CudaShapes);

    private static IEnumerable<TestCaseData> GpuPoolCases() => GpuTargets.Cases(TinyShapes, CudaShapes.Where(d => d[2] >= 2));

    [TestCaseSource(nameof(GpuUpsampleCases))]
    public void IlgpuUpsampleMatchesCpu(int[] d, string device)
    {
        var x = TestData.Normal(Count(d), 3);
        Close.Identical(Upsample(TestBackends.Cpu, x, d), Upsample(TestBackends.Get(device), x, d), "upsample");
    }

    [TestCaseSource(nameof(GpuPoolCases))]
    public void IlgpuAvgPoolMatchesCpu(int[] d, string device)
    {
        var x = TestData.Normal(Count(d), 4);
        Close.Identical(Pool(TestBackends.Cpu, x, d), Pool(TestBackends.Get(device), x, d), "avg pool");
    }

    [Test]
    public void BadShapesNameTheOpAndShapes()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(1, 3, 7, 5);
        using var wrong = b.Allocate(1, 3, 14, 11);
        var e = Assert.Throws<ShapeMismatchException>(() => b.UpsampleNearest2x(x, wrong))!;
        Assert.That(e.Message, Does.Contain("upsample").And.Contain("[1,3,14,10]").And.Contain("[1,3,14,11]"));

        using var pooled = b.Allocate(1, 3, 4, 2);
        e = Assert.Throws<ShapeMismatchException>(() => b.AvgPool2x2(x, pooled))!;
        Assert.That(e.Message, Does.Contain("avg pool").And.Contain("[1,3,3,2]").And.Contain("[1,3,4,2]"));

        using var thin = b.Allocate(1, 3, 1, 5);
        using var any = b.Allocate(1, 3, 1, 2);
        Assert.Throws<ShapeMismatchException>(() => b.AvgPool2x2(thin, any));
        using var flat = b.Allocate(3, 7, 5);
        using var flatUp = b.Allocate(3, 14, 10);
        Assert.Throws<ShapeMismatchException>(() => b.UpsampleNearest2x(flat, flatUp));
    }
}
