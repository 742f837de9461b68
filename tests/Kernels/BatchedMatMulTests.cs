using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class BatchedMatMulTests
{
    private static float[] Naive(float[] a, float[] b, int batch, int m, int n, int k, bool tb, float alpha)
    {
        var c = new float[batch * m * n];
        for (int z = 0; z < batch; z++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++)
                        s += (double)a[(z * m + i) * k + p] * (tb ? b[(z * n + j) * k + p] : b[(z * k + p) * n + j]);
                    c[(z * m + i) * n + j] = (float)(alpha * s);
                }
        return c;
    }

    private static float[] Run(Backend be, float[] a, float[] b, int batch, int m, int n, int k, bool tb, float alpha)
    {
        using var ta = be.Upload(a, new Shape(batch, m, k));
        using var tbT = be.Upload(b, tb ? new Shape(batch, n, k) : new Shape(batch, k, n));
        using var tc = be.Allocate(batch, m, n);
        be.BatchedMatMul(ta, tbT, tc, tb, alpha);
        return tc.ToArray();
    }

    [TestCase(1, 1, 1, 1, false, 1f)]
    [TestCase(2, 3, 5, 7, true, 0.125f)]
    [TestCase(8, 16, 16, 32, true, 0.25f)]     // many small matrices: parallel over the batch
    [TestCase(8, 16, 24, 16, false, 1f)]
    [TestCase(2, 100, 90, 80, false, -1.5f)]   // big enough to split each matrix across threads
    [TestCase(2, 100, 90, 80, true, 1f)]
    [TestCase(3, 100, 90, 80, true, 0.5f)]     // odd batch: each matrix split across threads in turn
    public void CpuMatchesNaiveLoop(int batch, int m, int n, int k, bool tb, float alpha)
    {
        var a = TestData.Normal(batch * m * k, 1);
        var b = TestData.Normal(batch * k * n, 2);
        Close.Assert(Naive(a, b, batch, m, n, k, tb, alpha), Run(TestBackends.Cpu, a, b, batch, m, n, k, tb, alpha));
    }

    // (batch, m, n, k, transposeB, alpha): M just over a 64-row tile, K over one 16-step, tiles in both directions of several batches.
    private static IEnumerable<object[]> Tiny() =>
        [[2, 3, 5, 7, true, 0.125f], [2, 3, 5, 7, false, 1f], [3, 17, 33, 9, false, 0.5f], [2, 65, 17, 18, true, 1f], [3, 130, 70, 20, false, 1f]];

    // On CUDA: attention-sized products, and 70,000 batches (more than the 65,535 groups a grid's y or z holds).
    private static IEnumerable<object[]> CudaShapes() =>
        [[8, 256, 256, 256, true, 0.0625f], [8, 256, 256, 256, false, 1f], [3, 1000, 999, 129, true, 1f], [70_000, 2, 3, 4, false, 1f]];

    private static IEnumerable<TestCaseData> GpuCases() => GpuTargets.Cases(Tiny(), CudaShapes());

    [TestCaseSource(nameof(GpuCases))]
    public void IlgpuMatchesCpu(int batch, int m, int n, int k, bool tb, float alpha, string device)
    {
        var a = TestData.Normal(batch * m * k, 3);
        var b = TestData.Normal(batch * k * n, 4);
        Close.Assert(Run(TestBackends.Cpu, a, b, batch, m, n, k, tb, alpha), Run(TestBackends.Get(device), a, b, batch, m, n, k, tb, alpha));
    }

    [Test]
    public void BadShapesThrow()
    {
        var cpu = TestBackends.Cpu;
        using var a = cpu.Allocate(2, 3, 4);
        using var b = cpu.Allocate(2, 4, 5);
        using var bBatch = cpu.Allocate(3, 4, 5);
        using var c = cpu.Allocate(2, 3, 5);
        using var cBad = cpu.Allocate(2, 3, 4);
        var e = Assert.Throws<ShapeMismatchException>(() => cpu.BatchedMatMul(a, bBatch, c));
        Assert.That(e!.Message, Does.Contain("batched matmul"));
        Assert.Throws<ShapeMismatchException>(() => cpu.BatchedMatMul(a, b, c, transposeB: true));
        Assert.Throws<ShapeMismatchException>(() => cpu.BatchedMatMul(a, b, cBad));
        using var flat = cpu.Allocate(6, 4);
        Assert.Throws<ShapeMismatchException>(() => cpu.BatchedMatMul(flat, b, c));
    }
}
