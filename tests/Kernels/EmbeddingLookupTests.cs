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

    private static IEnumerable<TestCaseData> BadLabels() =>
        GpuTargets.AllDevices().SelectMany(d => new[] { -1L, 10L, long.MaxValue }.Select(bad =>
        {
            string device = (string)d.Arguments[0]!;
            var data = new TestCaseData(bad, device).SetName($"{{m}}({bad}, {device})");
            return device == "cuda" ? data.SetCategory(GpuTargets.Category) : data;
        }));

    [TestCaseSource(nameof(BadLabels))]
    public void EveryBackendRejectsAnOutOfRangeLabelNamingItAndTheTableSize(long bad, string device)
    {
        // Checked on the host before the launch: the ILGPU backend reads its host copy of the uploaded labels.
        var b = TestBackends.Get(device);
        var table = TestData.Normal(10 * 7, 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Run(b, table, 10, 7, [1, bad, 2]))!;
        Assert.That(e.Message, Does.Contain($"label {bad}").And.Contain("10 rows").And.Contain("position 1"));
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void LabelsCopiedOnTheDeviceAreCheckedToo(string device)
    {
        // A device-side copy carries the host copy along; a label written by an upload after a copy is seen too.
        var b = TestBackends.Get(device);
        var table = TestData.Normal(10 * 7, 4);
        using var t = b.Upload(table, new Shape(10, 7));
        using var source = b.Upload(new long[] { 3, 12 }, new Shape(2));
        using var labels = b.Allocate(new Shape(2), DType.Int64);
        using var y = b.Allocate(2, 7);
        b.Copy(source, labels);
        Assert.Throws<ArgumentOutOfRangeException>(() => b.EmbeddingLookup(t, labels, y));
        b.CopyFromHost([3L, 9L], labels);
        b.EmbeddingLookup(t, labels, y);
        Close.Identical([.. table[21..28], .. table[63..70]], y.ToArray(), "rows 3 and 9");
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
