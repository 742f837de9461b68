using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using MathNet.Numerics;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class LinearTests
{
    private static readonly Activation[] AllActivations = Enum.GetValues<Activation>();

    /// <summary>Independent double-precision references for the activations.</summary>
    private static double Act(Activation act, double x) => act switch
    {
        Activation.SiLU => x / (1 + Math.Exp(-x)),
        Activation.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        Activation.GeluExact => 0.5 * x * (1 + SpecialFunctions.Erf(x / Math.Sqrt(2))),
        Activation.Mish => x * Math.Tanh(Math.Log(1 + Math.Exp(x))),
        Activation.Relu => Math.Max(x, 0),
        _ => x,
    };

    private static float[] Naive(float[] x, float[] w, float[]? bias, int m, int n, int k, Activation act)
    {
        var y = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = bias?[j] ?? 0;
                for (int p = 0; p < k; p++) s += (double)x[i * k + p] * w[j * k + p];
                y[i * n + j] = (float)Act(act, s);
            }
        return y;
    }

    private static IEnumerable<TestCaseData> CpuCases()
    {
        foreach (var act in AllActivations)
            yield return new TestCaseData(3, 5, 7, true, act);
        yield return new TestCaseData(17, 33, 9, false, Activation.Identity);
        yield return new TestCaseData(8, 512, 64, true, Activation.SiLU);      // time-embedding shape (N split)
        yield return new TestCaseData(300, 250, 64, true, Activation.GeluExact); // parallel epilogue chunks
        yield return new TestCaseData(129, 70, 300, false, Activation.Mish);     // K crosses a cache block
    }

    [TestCaseSource(nameof(CpuCases))]
    public void CpuMatchesNaiveLoop(int m, int n, int k, bool withBias, Activation act)
    {
        var cpu = TestBackends.Cpu;
        var xs = TestData.Normal(m * k, 1);
        var ws = TestData.Normal(n * k, 2, 1f / MathF.Sqrt(k));
        var bs = withBias ? TestData.Normal(n, 3) : null;
        using var x = cpu.Upload(xs, new Shape(m, k));
        using var w = cpu.Upload(ws, new Shape(n, k));
        using var b = bs is null ? null : cpu.Upload(bs, new Shape(n));
        using var y = cpu.Allocate(m, n);
        cpu.Linear(x, w, b, y, act);
        Close.Assert(Naive(xs, ws, bs, m, n, k, act), y.ToArray(), 1e-5, $"linear {act}");
    }

    private static IEnumerable<object[]> Tiny()
    {
        foreach (var act in AllActivations)
            yield return [3, 5, 7, true, act];
        yield return [17, 33, 9, false, Activation.Identity];
        yield return [70, 66, 20, true, Activation.GeluTanh]; // just over one 64×64 tile, K over one 16-step
    }

    // On CUDA: the time-embedding MLP of a batch of 128, the attention projections of DDPM-CIFAR, odd edges.
    private static IEnumerable<object[]> CudaShapes() =>
    [
        [128, 512, 128, true, Activation.SiLU], [2048, 256, 256, true, Activation.Identity], [129, 193, 67, true, Activation.GeluExact],
        [1000, 70, 300, true, Activation.Mish], [333, 65, 64, false, Activation.Relu],
    ];

    private static IEnumerable<TestCaseData> GpuCases() => GpuTargets.Cases(Tiny(), CudaShapes());

    [TestCaseSource(nameof(GpuCases))]
    public void IlgpuMatchesCpu(int m, int n, int k, bool withBias, Activation act, string device)
    {
        var xs = TestData.Normal(m * k, 4);
        var ws = TestData.Normal(n * k, 5, 1f / MathF.Sqrt(k));
        var bs = withBias ? TestData.Normal(n, 6) : null;
        float[] Run(Backend be)
        {
            // Leading dims as [2, m/2…] when even, to check that rank-3 inputs flatten to M rows.
            using var x = be.Upload(xs, m % 2 == 0 ? new Shape(2, m / 2, k) : new Shape(m, k));
            using var w = be.Upload(ws, new Shape(n, k));
            using var b = bs is null ? null : be.Upload(bs, new Shape(n));
            using var y = be.Allocate(m % 2 == 0 ? new Shape(2, m / 2, n) : new Shape(m, n));
            be.Linear(x, w, b, y, act);
            return y.ToArray();
        }
        Close.Assert(Run(TestBackends.Cpu), Run(TestBackends.Get(device)), 1e-5, $"linear {act}");
    }

    private static IEnumerable<TestCaseData> VersionCases() => GpuTargets.Cases([new object[] { 2, 9, 70, 19 }, [3, 130, 70, 17]], [[4, 300, 257, 65]]);

    [TestCaseSource(nameof(VersionCases))]
    public void KernelVersionsAgreeWithSgemm(int batch, int m, int n, int k, string device)
    {
        // The naive and tiled kernels straight from the launcher, both B layouts, several batches and tiles, alpha ≠ 1.
        var backend = TestBackends.Ilgpu(device);
        var acc = backend.Accelerator;
        var stream = backend.Stream;
        var kernels = new GemmKernels(acc);
        var a = TestData.Normal(batch * m * k, 7);
        var b = TestData.Normal(batch * k * n, 8);
        using var da = acc.Allocate1D(a);
        using var db = acc.Allocate1D(b);
        using var dc = acc.Allocate1D<float>(batch * m * n);
        foreach (bool tb in new[] { false, true })
        {
            var expected = new float[batch * m * n];
            for (int z = 0; z < batch; z++)
                DiffusionKernels.Kernels.Cpu.Sgemm.Multiply(false, tb, m, n, k, 0.5f, a.AsSpan(z * m * k, m * k), k,
                    b.AsSpan(z * k * n, k * n), tb ? k : n, 0f, expected.AsSpan(z * m * n, m * n), n);
            var p = new GemmParams
            {
                M = m,
                N = n,
                K = k,
                Lda = k,
                Ldb = tb ? k : n,
                Ldc = n,
                StrideA = m * k,
                StrideB = k * n,
                StrideC = m * n,
                TransB = tb ? 1 : 0,
                Alpha = 0.5f,
            };
            foreach (var version in Enum.GetValues<GemmVersion>())
            {
                dc.View.MemSetToZero(stream);
                kernels.Run(stream, da.View, db.View, dc.View, ArrayView<float>.Empty, p, batch, version);
                stream.Synchronize();
                Close.Assert(expected, dc.GetAsArray1D(), 1e-5, $"{version} transB={tb}");
            }
        }
    }

    [Test]
    public void NaiveKernelRunsMoreRowsThanAGridDimensionHolds()
    {
        // 70,000 rows: the naive kernel once put M on the grid's y dimension, which CUDA (and ILGPU's CPU device,
        // which copies its limits) caps at 65,535 groups; the launch is one-dimensional now.
        const int m = 70_000, n = 2, k = 3;
        var backend = TestBackends.IlgpuCpu;
        var kernels = new GemmKernels(backend.Accelerator);
        Assert.That(backend.Accelerator.MaxGridSize.Y, Is.EqualTo(ushort.MaxValue), "the emulated device keeps CUDA's grid limits");
        var a = TestData.Normal(m * k, 9);
        var b = TestData.Normal(k * n, 10);
        var expected = new float[m * n];
        DiffusionKernels.Kernels.Cpu.Sgemm.Multiply(false, false, m, n, k, 1f, a, k, b, n, 0f, expected, n);
        using var da = backend.Accelerator.Allocate1D(a);
        using var db = backend.Accelerator.Allocate1D(b);
        using var dc = backend.Accelerator.Allocate1D<float>(m * n);
        var p = new GemmParams { M = m, N = n, K = k, Lda = k, Ldb = n, Ldc = n, Alpha = 1f };
        kernels.Run(backend.Stream, da.View, db.View, dc.View, ArrayView<float>.Empty, p, 1, GemmVersion.Naive);
        backend.Stream.Synchronize();
        Close.Assert(expected, dc.GetAsArray1D(), 1e-5, "naive, 70,000 rows");
    }

    [Test]
    public void ActivationsHandleExtremeInputs()
    {
        foreach (var kind in AllActivations)
            foreach (float x in new[] { -1e4f, -100f, 100f, 1e4f })
            {
                float y = ActivationMath.Apply(x, kind);
                Assert.That(float.IsFinite(y), $"{kind}({x}) = {y}");
                Assert.That(y, Is.EqualTo(Act(kind, x)).Within(1e-4 * Math.Abs(x)), $"{kind}({x})");
            }
    }

    [Test]
    public void BadShapesThrow()
    {
        var cpu = TestBackends.Cpu;
        using var x = cpu.Allocate(4, 7);
        using var w = cpu.Allocate(5, 7);
        using var wBad = cpu.Allocate(5, 6);
        using var y = cpu.Allocate(4, 5);
        using var yBad = cpu.Allocate(3, 5);
        using var bBad = cpu.Allocate(4);
        var e = Assert.Throws<ShapeMismatchException>(() => cpu.Linear(x, wBad, null, y));
        Assert.That(e!.Message, Does.Contain("linear"));
        Assert.Throws<ShapeMismatchException>(() => cpu.Linear(x, w, null, yBad));
        Assert.Throws<ShapeMismatchException>(() => cpu.Linear(x, w, bBad, y));
        using var gx = TestBackends.IlgpuCpu.Allocate(4, 7);
        Assert.Throws<ArgumentException>(() => cpu.Linear(gx, w, null, y), "tensor of another backend");
    }
}
