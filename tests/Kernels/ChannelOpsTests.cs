using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class ChannelOpsTests
{
    private static float[] ScaleShiftReference(float[] x, float[] ss, int n, int c, Activation a)
    {
        int spatial = x.Length / (n * c);
        var y = new float[x.Length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < spatial; i++)
                {
                    int at = (b * c + ch) * spatial + i;
                    y[at] = (float)ActivationTests.Reference((double)x[at] * (1 + (double)ss[b * 2 * c + ch]) + ss[b * 2 * c + c + ch], a);
                }
        return y;
    }

    private static float[] BiasReference(float[] x, float[] bias, int n, int c)
    {
        int spatial = x.Length / (n * c);
        var y = new float[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] + bias[i / spatial];
        return y;
    }

    private static float[] RunScaleShift(Backend backend, float[] x, float[] ss, int[] dims, Activation a, bool inPlace = false)
    {
        using var xt = backend.Upload(x, new Shape(dims));
        using var st = backend.Upload(ss, new Shape(dims[0], 2 * dims[1]));
        using var yt = inPlace ? null : backend.Allocate(new Shape(dims));
        backend.ScaleShift(xt, st, yt ?? xt, a);
        return (yt ?? xt).ToArray();
    }

    private static float[] RunBias(Backend backend, float[] x, float[] bias, int[] dims, bool inPlace = false)
    {
        using var xt = backend.Upload(x, new Shape(dims));
        using var bt = backend.Upload(bias, new Shape(dims[0], dims[1]));
        using var yt = inPlace ? null : backend.Allocate(new Shape(dims));
        backend.AddChannelBias(xt, bt, yt ?? xt);
        return (yt ?? xt).ToArray();
    }

    private static readonly int[][] CpuShapes = [[1, 3, 7, 5], [2, 5, 3, 3], [3, 4], [4, 64, 17, 19], [1, 2, 257, 255]];

    private static IEnumerable<TestCaseData> CpuScaleShiftCases() =>
        CpuShapes.SelectMany(d => ActivationTests.All.Select(a => new TestCaseData(d, a)));

    [TestCaseSource(nameof(CpuScaleShiftCases))]
    public void CpuScaleShiftMatchesNaiveLoop(int[] dims, Activation a)
    {
        var x = TestData.Normal(dims.Aggregate(1, (p, d) => p * d), 21, 1.5f);
        var ss = TestData.Normal(2 * dims[0] * dims[1], 22, 0.5f);
        Close.Assert(ScaleShiftReference(x, ss, dims[0], dims[1], a), RunScaleShift(TestBackends.Cpu, x, ss, dims, a), what: $"scale shift {a}");
    }

    [TestCaseSource(nameof(CpuShapes))]
    public void CpuAddChannelBiasMatchesNaiveLoop(int[] dims)
    {
        var x = TestData.Normal(dims.Aggregate(1, (p, d) => p * d), 23);
        var bias = TestData.Normal(dims[0] * dims[1], 24);
        Close.Assert(BiasReference(x, bias, dims[0], dims[1]), RunBias(TestBackends.Cpu, x, bias, dims), what: "add channel bias");
    }

    [Test]
    public void CpuInPlace()
    {
        int[] dims = [4, 64, 17, 19];
        var x = TestData.Normal(dims.Aggregate(1, (p, d) => p * d), 25);
        var ss = TestData.Normal(2 * dims[0] * dims[1], 26, 0.5f);
        Close.Assert(ScaleShiftReference(x, ss, 4, 64, Activation.SiLU), RunScaleShift(TestBackends.Cpu, x, ss, dims, Activation.SiLU, inPlace: true));
        var bias = TestData.Normal(dims[0] * dims[1], 27);
        Close.Assert(BiasReference(x, bias, 4, 64), RunBias(TestBackends.Cpu, x, bias, dims, inPlace: true));
    }

    private static IEnumerable<TestCaseData> GpuActivations() => GpuTargets.Cases(ActivationTests.All);

    [TestCaseSource(nameof(GpuActivations))]
    public void IlgpuEmulatorScaleShiftMatchesCpu(Activation a, string device)
    {
        int[] dims = device == "cuda" ? [8, 256, 17, 16] : [2, 3, 7, 5];
        int n = dims.Aggregate(1, (p, d) => p * d);
        var x = TestData.Normal(n, 31, 2f);
        var ss = TestData.Normal(2 * dims[0] * dims[1], 32, 0.5f);
        Close.Assert(RunScaleShift(TestBackends.Cpu, x, ss, dims, a), RunScaleShift(TestBackends.Get(device), x, ss, dims, a), what: $"{device} scale shift {a}");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void IlgpuEmulatorAddChannelBiasMatchesCpu(string device)
    {
        foreach (int[] dims in new[] { new[] { 2, 3, 7, 5 }, [3, 5], [8, 256, 16, 17] })
        {
            if (device == "ilgpu-cpu" && dims.Length == 4 && dims[1] > 3) continue;
            var x = TestData.Normal(dims.Aggregate(1, (p, d) => p * d), 33);
            var bias = TestData.Normal(dims[0] * dims[1], 34);
            Close.Identical(RunBias(TestBackends.Cpu, x, bias, dims), RunBias(TestBackends.Get(device), x, bias, dims), $"{device} add channel bias");
        }
    }

    /// <summary>The bias read as columns [offset, offset + C) of a wider [N, S] matrix (the stacked time projections).</summary>
    private static float[] RunBiasSlice(Backend backend, float[] x, float[] wide, int[] dims, int width, int offset)
    {
        using var xt = backend.Upload(x, new Shape(dims));
        using var bt = backend.Upload(wide, new Shape(dims[0], width));
        using var yt = backend.Allocate(new Shape(dims));
        backend.AddChannelBias(xt, bt, offset, yt);
        return yt.ToArray();
    }

    private static float[] Columns(float[] wide, int rows, int width, int offset, int count) =>
        [.. Enumerable.Range(0, rows).SelectMany(n => wide.Skip(n * width + offset).Take(count))];

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void BiasSliceReadsItsColumnsOfEveryRow(string device)
    {
        int[] dims = device == "cuda" ? [4, 96, 16, 17] : [3, 5, 3, 7];
        int width = dims[1] + 9, offset = 4;
        var x = TestData.Normal(dims.Aggregate(1, (p, d) => p * d), 35);
        var wide = TestData.Normal(dims[0] * width, 36);
        var expected = BiasReference(x, Columns(wide, dims[0], width, offset, dims[1]), dims[0], dims[1]);
        Close.Identical(expected, RunBiasSlice(TestBackends.Cpu, x, wide, dims, width, offset), "cpu add channel bias slice");
        Close.Identical(expected, RunBiasSlice(TestBackends.Get(device), x, wide, dims, width, offset), $"{device} add channel bias slice");
    }

    [Test]
    public void WrongScaleShiftShapeNamesTheOp()
    {
        using var x = TestBackends.Cpu.Allocate(2, 3, 4, 4);
        using var ss = TestBackends.Cpu.Allocate(2, 3);
        var e = Assert.Throws<ShapeMismatchException>(() => TestBackends.Cpu.ScaleShift(x, ss, x));
        Assert.That(e!.Message, Does.Contain("scale shift").And.Contain("[2,6]"));
    }

    [Test]
    public void WrongBiasShapeNamesTheOp()
    {
        using var x = TestBackends.Cpu.Allocate(2, 3, 4, 4);
        using var b = TestBackends.Cpu.Allocate(3);
        var e = Assert.Throws<ShapeMismatchException>(() => TestBackends.Cpu.AddChannelBias(x, b, x));
        Assert.That(e!.Message, Does.Contain("add channel bias"));
    }
}
