using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class ElementwiseTests
{
    private static int Count(int[] d) => d.Aggregate(1, (p, v) => p * v);

    // ---------------------------------------------------------------- concat

    private static float[] ConcatReference(float[] a, float[] b, int n)
    {
        int sa = a.Length / n, sb = b.Length / n;
        var y = new List<float>();
        for (int i = 0; i < n; i++)
        {
            y.AddRange(a.Skip(i * sa).Take(sa));
            y.AddRange(b.Skip(i * sb).Take(sb));
        }
        return [.. y];
    }

    private static float[] Concat(Backend backend, float[] a, int[] da, float[] b, int[] db)
    {
        using var at = backend.Upload(a, new Shape(da));
        using var bt = backend.Upload(b, new Shape(db));
        var dy = (int[])da.Clone();
        dy[1] += db[1];
        using var yt = backend.Allocate(new Shape(dy));
        backend.ConcatChannels(at, bt, yt);
        return yt.ToArray();
    }

    private static IEnumerable<TestCaseData> ConcatCases() =>
    [
        new(new[] { 2, 5, 3, 7 }, new[] { 2, 3, 3, 7 }),
        new(new[] { 3, 4 }, new[] { 3, 5 }),
        new(new[] { 1, 1, 1, 1 }, new[] { 1, 2, 1, 1 }),
        new(new[] { 4, 96, 17, 19 }, new[] { 4, 64, 17, 19 }), // above the parallel threshold
    ];

    [TestCaseSource(nameof(ConcatCases))]
    public void CpuConcatMatchesNaiveLoop(int[] da, int[] db)
    {
        var a = TestData.Normal(Count(da), 1);
        var b = TestData.Normal(Count(db), 2);
        Close.Identical(ConcatReference(a, b, da[0]), Concat(TestBackends.Cpu, a, da, b, db), "concat");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void IlgpuConcatMatchesCpu(string device)
    {
        int[] da = [2, 3, 5, 7], db = [2, 2, 5, 7];
        var a = TestData.Normal(Count(da), 3);
        var b = TestData.Normal(Count(db), 4);
        Close.Identical(Concat(TestBackends.Cpu, a, da, b, db), Concat(TestBackends.Get(device), a, da, b, db), "concat");
    }

    // ---------------------------------------------------------------- axpby, scale, clamp

    public enum Alias { None, A, B }

    private static float[] RunAxpby(Backend backend, float alpha, float[] a, float beta, float[]? b, Alias alias)
    {
        var shape = new Shape(a.Length);
        using var at = backend.Upload(a, shape);
        using var bt = b is null ? null : backend.Upload(b, shape);
        using var fresh = alias == Alias.None ? backend.Allocate(shape) : null;
        var yt = alias switch { Alias.A => at, Alias.B => bt!, _ => fresh! };
        backend.Axpby(alpha, at, beta, bt, yt);
        return yt.ToArray();
    }

    private static IEnumerable<TestCaseData> AxpbyCases()
    {
        foreach (int n in new[] { 7, 1000, 300_001 })
            foreach (var alias in new[] { Alias.None, Alias.A, Alias.B })
                yield return new TestCaseData(n, alias);
    }

    [TestCaseSource(nameof(AxpbyCases))]
    public void CpuAxpbyMatchesNaiveLoop(int n, Alias alias)
    {
        var a = TestData.Normal(n, 5);
        var b = TestData.Normal(n, 6);
        const float alpha = 0.7f, beta = -1.3f;
        var expected = a.Zip(b, (x, y) => alpha * x + beta * y).ToArray();
        Close.Identical(expected, RunAxpby(TestBackends.Cpu, alpha, a, beta, b, alias), "axpby");
        if (alias != Alias.B)
        {
            Close.Identical(a.Select(x => alpha * x).ToArray(), RunAxpby(TestBackends.Cpu, alpha, a, 0f, null, alias), "scale");
        }
    }

    private static IEnumerable<TestCaseData> AliasCases() => GpuTargets.Cases(Enum.GetValues<Alias>());

    [TestCaseSource(nameof(AliasCases))]
    public void IlgpuAxpbyMatchesCpu(Alias alias, string device)
    {
        var g = TestBackends.Get(device);
        var a = TestData.Normal(105, 7);
        var b = TestData.Normal(105, 8);
        // CUDA may fuse the multiply-add (1 ulp); the emulator does not, but keep the tolerance for both.
        Close.Assert(RunAxpby(TestBackends.Cpu, 2.5f, a, 0.5f, b, Alias.None), RunAxpby(g, 2.5f, a, 0.5f, b, alias), 1e-6, "axpby");
        if (alias != Alias.B)
            Close.Identical(RunAxpby(TestBackends.Cpu, -3f, a, 0f, null, Alias.None), RunAxpby(g, -3f, a, 0f, null, alias), "scale");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void AddAndScaleGoThroughAxpby(string device)
    {
        var backend = TestBackends.Get(device);
        using var a = backend.Upload([1f, 2f, 3f], new Shape(3));
        using var b = backend.Upload([10f, 20f, 30f], new Shape(3));
        using var y = backend.Allocate(3);
        backend.Add(a, b, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 11f, 22f, 33f }));
        backend.Scale(y, -2f, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { -22f, -44f, -66f }));
    }

    private static float[] WithSpecials(float[] x)
    {
        x[0] = float.NaN;
        x[1] = float.PositiveInfinity;
        x[2] = float.NegativeInfinity;
        x[3] = -0.5f; // exactly the lower bound
        return x;
    }

    private static float[] RunClamp(Backend backend, float[] x, float lo, float hi, bool inPlace)
    {
        using var xt = backend.Upload(x, new Shape(x.Length));
        using var fresh = inPlace ? null : backend.Allocate(x.Length);
        var yt = fresh ?? xt;
        backend.Clamp(xt, lo, hi, yt);
        return yt.ToArray();
    }

    [TestCase(9, false)]
    [TestCase(9, true)]
    [TestCase(300_003, false)]
    [TestCase(300_003, true)]
    public void CpuClampMatchesNaiveLoopAndKeepsNaN(int n, bool inPlace)
    {
        var x = WithSpecials(TestData.Normal(n, 9, 2f));
        var expected = x.Select(v => float.IsNaN(v) ? v : Math.Min(Math.Max(v, -0.5f), 1.25f)).ToArray();
        var actual = RunClamp(TestBackends.Cpu, x, -0.5f, 1.25f, inPlace);
        Close.Identical(expected, actual, "clamp");
        Assert.That(float.IsNaN(actual[0]), "NaN passes through clamp, as in torch.clamp");
    }

    private static IEnumerable<TestCaseData> InPlaceCases() => GpuTargets.Cases([false, true]);

    [TestCaseSource(nameof(InPlaceCases))]
    public void IlgpuClampMatchesCpu(bool inPlace, string device)
    {
        var x = WithSpecials(TestData.Normal(77, 10, 2f));
        Close.Identical(RunClamp(TestBackends.Cpu, x, -0.5f, 1.25f, false), RunClamp(TestBackends.Get(device), x, -0.5f, 1.25f, inPlace), "clamp");
    }

    // ---------------------------------------------------------------- linear combination

    /// <summary>Σᵢ cᵢ[b]·xᵢ[b] in double.</summary>
    private static float[] CombinationReference(float[][] xs, float[] c, int batch, bool perSample)
    {
        int length = xs[0].Length, sample = length / batch;
        var y = new float[length];
        for (int j = 0; j < length; j++)
        {
            int b = j / sample;
            double s = 0;
            for (int i = 0; i < xs.Length; i++) s += (double)(perSample ? c[i * batch + b] : c[i]) * xs[i][j];
            y[j] = (float)s;
        }
        return y;
    }

    /// <summary>Runs the op; <paramref name="aliasTerm"/> ≥ 0 writes the output over that term.</summary>
    private static float[] RunCombination(Backend backend, float[][] xs, float[] c, int[] dims, int aliasTerm)
    {
        var shape = new Shape(dims);
        var tensors = xs.Select(x => backend.Upload(x, shape)).ToArray();
        using var fresh = aliasTerm < 0 ? backend.Allocate(shape) : null;
        try
        {
            var y = fresh ?? tensors[aliasTerm];
            backend.LinearCombination(y, tensors, c);
            return y.ToArray();
        }
        finally
        {
            foreach (var t in tensors) t.Dispose();
        }
    }

    private static (float[][] Xs, float[] C) CombinationData(int terms, int[] dims, bool perSample, int seed)
    {
        var xs = Enumerable.Range(0, terms).Select(i => TestData.Normal(Count(dims), seed + i)).ToArray();
        var c = TestData.Normal(perSample ? terms * dims[0] : terms, seed + 100);
        return (xs, c);
    }

    private static IEnumerable<TestCaseData> CombinationCases()
    {
        foreach (var dims in new[] { new[] { 3, 5, 7 }, new[] { 4, 3, 130, 131 } })
            for (int terms = 1; terms <= Backend.MaxLinearCombinationTerms; terms++)
                foreach (bool perSample in new[] { false, true })
                    yield return new TestCaseData(dims, terms, perSample);
    }

    // The float sum of up to 8 products differs from the double reference by a few ulp of the largest term.
    private const double CombinationTolerance = 1e-6;

    [TestCaseSource(nameof(CombinationCases))]
    public void CpuLinearCombinationMatchesNaiveLoop(int[] dims, int terms, bool perSample)
    {
        var (xs, c) = CombinationData(terms, dims, perSample, 20 + terms);
        var expected = CombinationReference(xs, c, dims[0], perSample);
        Close.Assert(expected, RunCombination(TestBackends.Cpu, xs, c, dims, -1), CombinationTolerance, "fresh output");
        Close.Assert(expected, RunCombination(TestBackends.Cpu, xs, c, dims, 0), CombinationTolerance, "output over the first term");
        Close.Assert(expected, RunCombination(TestBackends.Cpu, xs, c, dims, terms - 1), CombinationTolerance, "output over the last term");
    }

    private static IEnumerable<TestCaseData> IlgpuCombinationCases() =>
        GpuTargets.Cases(Enumerable.Range(1, Backend.MaxLinearCombinationTerms).SelectMany(terms => new[] { new object[] { terms, false }, [terms, true] }));

    [TestCaseSource(nameof(IlgpuCombinationCases))]
    public void IlgpuLinearCombinationMatchesCpu(int terms, bool perSample, string device)
    {
        var g = TestBackends.Get(device);
        int[] dims = [3, 2, 5, 7];
        var (xs, c) = CombinationData(terms, dims, perSample, 40 + terms);
        var expected = RunCombination(TestBackends.Cpu, xs, c, dims, -1);
        // CUDA may contract c·x + acc into FMA (≤ 1 ulp per term); the emulator matches the CPU exactly.
        Close.Assert(expected, RunCombination(g, xs, c, dims, -1), CombinationTolerance, "fresh output");
        Close.Assert(expected, RunCombination(g, xs, c, dims, terms / 2), CombinationTolerance, "aliased output");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void IlgpuLinearCombinationReusesItsCoefficientBufferAcrossCalls(string device)
    {
        // Consecutive per-sample calls with new coefficients (and a batch that grows the device buffer) must each use their own.
        foreach (var dims in new[] { new[] { 2, 3 }, new[] { 40, 3 }, new[] { 2, 3 } })
        {
            var (xs, c) = CombinationData(3, dims, true, dims[0]);
            Close.Assert(CombinationReference(xs, c, dims[0], true), RunCombination(TestBackends.Get(device), xs, c, dims, -1), CombinationTolerance, $"batch {dims[0]}");
        }
    }

    [Test, Category(GpuTargets.Category)]
    public void CudaMatchesCpuOnLargeShapes()
    {
        var cuda = TestBackends.Cuda;
        int[] da = [8, 256, 17, 19], db = [8, 128, 17, 19];
        var a = TestData.Normal(Count(da), 60);
        var b = TestData.Normal(Count(db), 61);
        Close.Identical(Concat(TestBackends.Cpu, a, da, b, db), Concat(cuda, a, da, b, db), "concat");
        Close.Assert(RunAxpby(TestBackends.Cpu, 0.3f, a, -2f, a, Alias.None), RunAxpby(cuda, 0.3f, a, -2f, a, Alias.A), 1e-6, "axpby");
        Close.Identical(RunClamp(TestBackends.Cpu, b, -0.5f, 0.5f, false), RunClamp(cuda, b, -0.5f, 0.5f, true), "clamp");
        int[] dims = [16, 3, 64, 65];
        foreach (bool perSample in new[] { false, true })
        {
            var (xs, c) = CombinationData(Backend.MaxLinearCombinationTerms, dims, perSample, 70);
            Close.Assert(RunCombination(TestBackends.Cpu, xs, c, dims, -1), RunCombination(cuda, xs, c, dims, 3), CombinationTolerance, $"linear combination, per sample {perSample}");
        }
    }

    // ---------------------------------------------------------------- bad inputs

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void BadInputsNameTheOp(string device)
    {
        var b = TestBackends.Get(device);
        using var x = b.Allocate(2, 3, 5);
        using var other = b.Allocate(2, 3, 6);
        using var y = b.Allocate(2, 3, 5);

        var e = Assert.Throws<ArgumentException>(() => b.LinearCombination(y, [], []))!;
        Assert.That(e.Message, Does.Contain("linear combination").And.Contain("0"));
        var nine = Enumerable.Repeat(x, 9).ToArray();
        Assert.Throws<ArgumentException>(() => b.LinearCombination(y, nine, new float[9]));
        e = Assert.Throws<ArgumentException>(() => b.LinearCombination(y, [x, x], new float[3]))!;
        Assert.That(e.Message, Does.Contain("2 or 4 coefficients").And.Contain("found 3"));
        var s = Assert.Throws<ShapeMismatchException>(() => b.LinearCombination(y, [x, other], [1f, 1f]))!;
        Assert.That(s.Message, Does.Contain("[2,3,6]").And.Contain("[2,3,5]"));

        s = Assert.Throws<ShapeMismatchException>(() => b.Axpby(1f, x, 1f, other, y))!;
        Assert.That(s.Message, Does.Contain("axpby").And.Contain("[2,3,6]"));
        e = Assert.Throws<ArgumentException>(() => b.Clamp(x, 1f, -1f, y))!;
        Assert.That(e.Message, Does.Contain("clamp"));
        Assert.Throws<ShapeMismatchException>(() => b.Clamp(x, -1f, 1f, other));

        using var wrongBatch = b.Allocate(3, 3, 5);
        using var cat = b.Allocate(2, 6, 5);
        s = Assert.Throws<ShapeMismatchException>(() => b.ConcatChannels(x, wrongBatch, cat))!;
        Assert.That(s.Message, Does.Contain("concat").And.Contain("[3,3,5]"));
        using var badCat = b.Allocate(2, 5, 5);
        Assert.Throws<ShapeMismatchException>(() => b.ConcatChannels(x, x, badCat));

        using var labels = b.Upload(new long[] { 0, 1 }, new Shape(2));
        Assert.Throws<DTypeMismatchException>(() => b.Axpby(1f, labels, 1f, null, labels));
    }
}
