using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class EmbeddingLookupTests
{
    private static float[] Reference(float[] table, int dim, long[] labels)
    {
        var y = new float[labels.Length * dim];
        for (int n = 0; n < labels.Length; n++)
            for (int d = 0; d < dim; d++)
                y[n * dim + d] = table[labels[n] * dim + d];
        return y;
    }

    private static float[] Run(Backend backend, float[] table, int rows, int dim, long[] labels)
    {
        using var tt = backend.Upload(table, new Shape(rows, dim));
        using var lt = backend.Upload(labels, new Shape(labels.Length));
        using var y = backend.Allocate(labels.Length, dim);
        backend.EmbeddingLookup(tt, lt, y);
        return y.ToArray();
    }

    private static IEnumerable<TestCaseData> Cases() =>
    [
        new(10, 7, new long[] { 0, 9, 3, 3, 5 }),
        new(1, 1, new long[] { 0 }),
        new(1000, 128, Enumerable.Range(0, 64).Select(i => (long)(i * 37 % 1000)).ToArray()),
    ];

    [TestCaseSource(nameof(Cases))]
    public void CpuMatchesNaiveLoop(int rows, int dim, long[] labels)
    {
        var table = TestData.Normal(rows * dim, 1);
        Close.Identical(Reference(table, dim, labels), Run(TestBackends.Cpu, table, rows, dim, labels), "lookup");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void IlgpuMatchesCpu(string device)
    {
        var table = TestData.Normal(10 * 7, 2);
        long[] labels = [0, 9, 3, 3, 5];
        Close.Identical(Run(TestBackends.Cpu, table, 10, 7, labels), Run(TestBackends.Get(device), table, 10, 7, labels), "lookup");
    }

    [TestCase(-1L)]
    [TestCase(10L)]
    [TestCase(long.MaxValue)]
    public void CpuRejectsOutOfRangeLabelNamingItAndTheTableSize(long bad)
    {
        var table = TestData.Normal(10 * 7, 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Run(TestBackends.Cpu, table, 10, 7, [1, bad, 2]))!;
        Assert.That(e.Message, Does.Contain($"label {bad}").And.Contain("10 rows"));
    }

    [TestCase(-1L)]
    [TestCase(10L)]
    public void IlgpuWritesNaNRowsForOutOfRangeLabels(long bad)
    {
        var table = TestData.Normal(10 * 7, 4);
        var y = Run(TestBackends.IlgpuCpu, table, 10, 7, [1, bad, 2]);
        Close.Identical(table[7..14], y[0..7], "valid row before");
        Assert.That(y[7..14], Is.All.NaN, "the invalid label's row");
        Close.Identical(table[14..21], y[14..21], "valid row after");
    }

    [Test, Category("Gpu")]
    public void CudaMatchesCpuAndFlagsBadLabels()
    {
        var table = TestData.Normal(1000 * 128, 5);
        var labels = Enumerable.Range(0, 64).Select(i => (long)(i * 37 % 1000)).ToArray();
        Close.Identical(Run(TestBackends.Cpu, table, 1000, 128, labels), Run(TestBackends.Cuda, table, 1000, 128, labels), "lookup");
        Assert.That(Run(TestBackends.Cuda, table, 1000, 128, [1000])[..128], Is.All.NaN);
    }

    [Test]
    public void BadInputsNameTheOp()
    {
        var b = TestBackends.Cpu;
        using var table = b.Allocate(10, 7);
        using var floatLabels = b.Allocate(3);
        using var y = b.Allocate(3, 7);
        var e = Assert.Throws<DTypeMismatchException>(() => b.EmbeddingLookup(table, floatLabels, y))!;
        Assert.That(e.Message, Does.Contain("embedding lookup").And.Contain("Int64"));
        using var labels = b.Upload(new long[] { 1, 2, 3 }, new Shape(3));
        using var wide = b.Allocate(3, 8);
        var s = Assert.Throws<ShapeMismatchException>(() => b.EmbeddingLookup(table, labels, wide))!;
        Assert.That(s.Message, Does.Contain("[3,7]").And.Contain("[3,8]"));
    }
}
