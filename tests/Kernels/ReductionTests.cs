using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class ReductionTests
{
    private static readonly Reduction[] Kinds = Enum.GetValues<Reduction>();

    private static float[] Reference(float[] x, int batch, Reduction kind)
    {
        int m = x.Length / batch;
        var r = new float[batch];
        for (int b = 0; b < batch; b++)
        {
            var s = x.AsSpan(b * m, m);
            double mean = 0, squares = 0, max = 0, count = 0;
            foreach (var v in s) mean += v;
            mean /= m;
            foreach (var v in s) squares += (v - mean) * (v - mean);
            foreach (var v in s)
            {
                if (float.IsNaN(v)) max = double.NaN;
                else if (!double.IsNaN(max)) max = Math.Max(max, Math.Abs(v));
                if (!float.IsFinite(v)) count++;
            }
            r[b] = (float)(kind switch
            {
                Reduction.Mean => mean,
                Reduction.Std => Math.Sqrt(squares / m),
                Reduction.MaxAbs => max,
                _ => count,
            });
        }
        return r;
    }

    private static float[] Run(Backend backend, float[] x, int[] dims, Reduction kind)
    {
        using var xt = backend.Upload(x, new Shape(dims));
        using var rt = backend.Allocate(dims[0]);
        backend.Reduce(xt, rt, kind);
        return rt.ToArray();
    }

    private static IEnumerable<TestCaseData> CpuCases() =>
        new[] { new[] { 1, 3, 7, 5 }, [3, 7], [16, 3, 64, 64], [2, 3, 200, 201] }
            .SelectMany(d => Kinds.Select(k => new TestCaseData(d, k)));

    [TestCaseSource(nameof(CpuCases))]
    public void CpuMatchesNaiveDoubleLoop(int[] dims, Reduction kind)
    {
        long n = dims.Aggregate(1L, (p, d) => p * d);
        // Offset so that the mean is not ~0 and relative checks mean something.
        var x = TestData.Normal(n, dims.Sum(), 2f).Select((v, i) => v + 0.5f + i % 3).ToArray();
        var expected = Reference(x, dims[0], kind);
        var actual = Run(TestBackends.Cpu, x, dims, kind);
        for (int b = 0; b < dims[0]; b++)
            Assert.That(actual[b], Is.EqualTo(expected[b]).Within(2e-6 * Math.Abs(expected[b])), $"{kind} sample {b}");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void StdOfAConstantIsExactlyZero(string device)
    {
        foreach (var backend in new[] { TestBackends.Get(device) })
        {
            int[] dims = device == "ilgpu-cpu" ? [2, 3, 7, 5] : [2, 3, 150, 151];
            var x = Enumerable.Repeat(0.1f, dims.Aggregate(1, (p, d) => p * d)).ToArray();
            Assert.That(Run(backend, x, dims, Reduction.Std), Is.All.EqualTo(0f), backend.Name);
            Assert.That(Run(backend, x, dims, Reduction.Mean), Is.All.EqualTo(0.1f), backend.Name);
        }
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void NonFiniteCountCountsNaNAndBothInfinities(string device)
    {
        foreach (var backend in new[] { TestBackends.Get(device) })
        {
            var x = TestData.Normal(2 * 105, 41);
            x[0] = float.NaN; x[17] = float.PositiveInfinity; x[104] = float.NegativeInfinity; // sample 0: body and tail
            x[105 + 3] = float.PositiveInfinity; x[209] = float.NaN; x[208] = float.MaxValue; // sample 1; MaxValue is finite
            Assert.That(Run(backend, x, [2, 3, 7, 5], Reduction.NonFiniteCount), Is.EqualTo(new[] { 3f, 2f }), backend.Name);
            var maxAbs = Run(backend, x, [2, 3, 7, 5], Reduction.MaxAbs);
            Assert.That(maxAbs, Is.All.NaN, $"{backend.Name}: max |x| of a sample holding NaN");
        }
    }

    [Test]
    public void CpuCountsNonFiniteInTheVectorBodyOfLargeSamples()
    {
        var x = TestData.Normal(2 * 70_001, 42);
        foreach (int i in new[] { 5, 4096, 65_536, 70_000, 70_001 + 8 }) x[i] = i % 2 == 0 ? float.NegativeInfinity : float.NaN;
        Assert.That(Run(TestBackends.Cpu, x, [2, 70_001], Reduction.NonFiniteCount), Is.EqualTo(new[] { 4f, 1f }));
    }

    private static IEnumerable<TestCaseData> GpuKinds() => GpuTargets.Cases(Kinds);

    [TestCaseSource(nameof(GpuKinds))]
    public void IlgpuEmulatorMatchesCpu(Reduction kind, string device)
    {
        // On CUDA also samples that fill 512-thread groups (16 warps) and a sampler-state-sized one.
        int[][] shapes = device == "cuda" ? [[3, 3, 7, 5], [2, 700], [1, 1], [4, 513], [16, 3, 64, 64], [2, 1, 1000, 1001]] : [[3, 3, 7, 5], [2, 700], [1, 1]];
        foreach (int[] dims in shapes)
        {
            var x = TestData.Normal(dims.Aggregate(1, (p, d) => p * d), 43, 3f).Select(v => v + 1f).ToArray();
            var expected = Run(TestBackends.Cpu, x, dims, kind);
            var actual = Run(TestBackends.Get(device), x, dims, kind);
            for (int b = 0; b < dims[0]; b++)
                Assert.That(actual[b], Is.EqualTo(expected[b]).Within(1e-5 * Math.Abs(expected[b]) + 1e-6), $"{kind} {string.Join('x', dims)} sample {b}");
        }
    }

    [Test]
    public void WrongResultShapeNamesTheOp()
    {
        using var x = TestBackends.Cpu.Allocate(2, 3, 4);
        using var r = TestBackends.Cpu.Allocate(3);
        var e = Assert.Throws<ShapeMismatchException>(() => TestBackends.Cpu.Reduce(x, r, Reduction.Mean));
        Assert.That(e!.Message, Does.Contain("reduce").And.Contain("[2,3,4]"));
    }
}
