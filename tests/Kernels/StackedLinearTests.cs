using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

/// <summary>Z Linears of one input as one op (an attention block's q, k, v) against the Z Linears it replaces.</summary>
public class StackedLinearTests
{
    /// <summary>Input [Rows, K]; Z layers of [N, K].</summary>
    public sealed record Case(int Z, int Rows, int N, int K)
    {
        public override string ToString() => $"{Z}x[{N},{K}] of [{Rows},{K}]";
    }

    private static IEnumerable<Case> EmulatorCases()
    {
        yield return new Case(3, 13, 5, 7);
        yield return new Case(3, 70, 65, 9);   // one past a 64 tile in rows and columns
        yield return new Case(2, 1, 3, 17);
    }

    private static IEnumerable<Case> CudaCases()
    {
        yield return new Case(3, 256, 256, 256); // a DDPM-CIFAR attention at 16×16
    }

    [TestCaseSource(nameof(EmulatorCases))]
    public void CpuIsTheLinearsBitForBit(Case c)
    {
        var b = TestBackends.Cpu;
        Close.Identical(Unfused(b, c), Stacked(b, c), $"cpu {c}");
    }

    [TestCaseSource(typeof(StackedLinearTests), nameof(KernelCases))]
    public void IlgpuMatchesCpuAndItsOwnLinears(Case c, string device)
    {
        var b = TestBackends.Get(device);
        var stacked = Stacked(b, c);
        // Each output is the same tile's K-long dot product as in the layer's own GEMM launch: the same bits.
        Close.Identical(Unfused(b, c), stacked, $"{device} stacked vs its linears {c}");
        // Against the CPU: K ≤ 256 products summed in another order, fp32, 1e-5 of the largest output.
        Close.Assert(Stacked(TestBackends.Cpu, c), stacked, what: $"{device} vs cpu {c}");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void NaiveKernelReadsEachBatchsBias(string device)
    {
        // The reference GEMM version with a per-batch bias stride, against the tiled one behind the backend op.
        var c = new Case(3, 13, 5, 7);
        var (x, w, bias) = Inputs(c);
        var backend = TestBackends.Ilgpu(device);
        var accelerator = backend.Accelerator;
        using var dx = accelerator.Allocate1D(x);
        using var dw = accelerator.Allocate1D(w);
        using var db = accelerator.Allocate1D(bias);
        using var dy = accelerator.Allocate1D<float>((long)c.Z * c.Rows * c.N);
        var p = new GemmParams
        {
            M = c.Rows,
            N = c.N,
            K = c.K,
            Lda = c.K,
            Ldb = c.K,
            Ldc = c.N,
            StrideB = (long)c.N * c.K,
            StrideC = (long)c.Rows * c.N,
            StrideBias = c.N,
            TransB = 1,
            Alpha = 1f,
        };
        new GemmKernels(accelerator).Run(backend.Stream, dx.View, dw.View, dy.View, db.View, p, c.Z, GemmVersion.Naive);
        backend.Stream.Synchronize();
        Close.Assert(Stacked(TestBackends.Cpu, c), dy.GetAsArray1D(), what: $"naive {c}");
    }

    [Test]
    public void WrongBiasShapeIsRefused()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(4, 5);
        using var w = b.Allocate(3, 2, 5);
        using var bias = b.Allocate(2, 2);
        using var y = b.Allocate(3, 4, 2);
        var e = Assert.Throws<ShapeMismatchException>(() => b.StackedLinear(x, w, bias, y))!;
        Assert.That(e.Message, Does.Contain("stacked linear").And.Contain("bias"));
    }

    private static IEnumerable<TestCaseData> KernelCases() => GpuTargets.Cases(EmulatorCases(), CudaCases());

    private static (float[] X, float[] W, float[] Bias) Inputs(Case c)
    {
        int seed = c.ToString().Aggregate(31, (h, ch) => unchecked(h * 31 + ch)) & 0xFFFF; // stable across runs
        return (TestData.Normal((long)c.Rows * c.K, seed), TestData.Normal((long)c.Z * c.N * c.K, seed + 1, 1f / MathF.Sqrt(c.K)),
            TestData.Normal((long)c.Z * c.N, seed + 2));
    }

    private static float[] Stacked(Backend b, Case c)
    {
        var (x, w, bias) = Inputs(c);
        using var tx = b.Upload(x, new Shape(c.Rows, c.K));
        using var tw = b.Upload(w, new Shape(c.Z, c.N, c.K));
        using var tb = b.Upload(bias, new Shape(c.Z, c.N));
        using var ty = b.Allocate(c.Z, c.Rows, c.N);
        b.StackedLinear(tx, tw, tb, ty);
        return ty.ToArray();
    }

    /// <summary>One Linear per layer, each into its own tensor, concatenated on the host.</summary>
    private static float[] Unfused(Backend b, Case c)
    {
        var (x, w, bias) = Inputs(c);
        using var tx = b.Upload(x, new Shape(c.Rows, c.K));
        var result = new List<float>();
        for (int z = 0; z < c.Z; z++)
        {
            using var tw = b.Upload(w.AsSpan(z * c.N * c.K, c.N * c.K).ToArray(), new Shape(c.N, c.K));
            using var tb = b.Upload(bias.AsSpan(z * c.N, c.N).ToArray(), new Shape(c.N));
            using var ty = b.Allocate(c.Rows, c.N);
            b.Linear(tx, tw, tb, ty);
            result.AddRange(ty.ToArray());
        }
        return [.. result];
    }
}
