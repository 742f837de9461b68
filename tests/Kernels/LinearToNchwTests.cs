using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

/// <summary>
/// An attention block's out-projection writing the feature map with its residual (one GEMM) against the Linear and the
/// token transpose with residual it replaces.
/// </summary>
public class LinearToNchwTests
{
    /// <summary>tokens [N, H·W, K] → y [N, C, H, W].</summary>
    public sealed record Case(int N, int C, int H, int W, int K, float Scale = 1f)
    {
        public override string ToString() => $"{N}x[{H}x{W},{K}]->{C}{(Scale != 1 ? $" x{Scale}" : "")}";
    }

    private static IEnumerable<Case> EmulatorCases()
    {
        yield return new Case(2, 5, 3, 5, 7);
        yield return new Case(1, 65, 9, 8, 9, 0.5f); // 65 channels and 72 pixels: one past a 64 tile each way
        yield return new Case(3, 3, 1, 1, 17);
    }

    private static IEnumerable<Case> CudaCases()
    {
        yield return new Case(1, 256, 16, 16, 256); // a DDPM-CIFAR attention at 16×16
    }

    private static IEnumerable<TestCaseData> KernelCases() => GpuTargets.Cases(EmulatorCases(), CudaCases());

    [TestCaseSource(nameof(EmulatorCases))]
    public void CpuIsTheLinearThenTransposeBitForBit(Case c)
    {
        var b = TestBackends.Cpu;
        Close.Identical(Unfused(b, c), Fused(b, c), $"cpu {c}");
    }

    [TestCaseSource(nameof(KernelCases))]
    public void IlgpuMatchesCpuAndItsOwnTwoSteps(Case c, string device)
    {
        var b = TestBackends.Get(device);
        var fused = Fused(b, c);
        // Each output is the same K-long dot product in the same k order as the Linear's (A and B swap, and a·b = b·a
        // exactly); bias, residual and scale round as the Linear's store and the transpose kernel do: the same bits.
        Close.Identical(Unfused(b, c), fused, $"{device} fused vs two steps {c}");
        // Against the CPU: K ≤ 256 products summed in another order, fp32, 1e-5 of the largest output.
        Close.Assert(Fused(TestBackends.Cpu, c), fused, what: $"{device} vs cpu {c}");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void NaiveKernelAddsRowBiasAndResidual(string device)
    {
        // The reference GEMM version with a per-row bias and a residual, launched as the backend launches the tiled one.
        var c = new Case(2, 5, 3, 5, 7, 0.5f);
        var (tokens, w, bias, residual) = Inputs(c);
        var backend = TestBackends.Ilgpu(device);
        var accelerator = backend.Accelerator;
        int pixels = c.H * c.W;
        using var dt = accelerator.Allocate1D(tokens);
        using var dw = accelerator.Allocate1D(w);
        using var db = accelerator.Allocate1D(bias);
        using var dr = accelerator.Allocate1D(residual);
        using var dy = accelerator.Allocate1D<float>(residual.Length);
        var p = new GemmParams
        {
            M = c.C,
            N = pixels,
            K = c.K,
            Lda = c.K,
            Ldb = c.K,
            Ldc = pixels,
            StrideB = (long)pixels * c.K,
            StrideC = (long)c.C * pixels,
            TransB = 1,
            Alpha = 1f,
            BiasPerRow = 1,
            HasResidual = 1,
            ResidualScale = c.Scale,
        };
        new GemmKernels(accelerator).Run(backend.Stream, dw.View, dt.View, dy.View, db.View, dr.View, p, c.N, GemmVersion.Naive);
        backend.Stream.Synchronize();
        Close.Assert(Fused(TestBackends.Cpu, c), dy.GetAsArray1D(), what: $"naive {c}");
    }

    [Test]
    public void WrongTokenShapeIsRefused()
    {
        var b = TestBackends.Cpu;
        using var tokens = b.Allocate(1, 12, 4);
        using var w = b.Allocate(3, 4);
        using var y = b.Allocate(1, 3, 4, 4);
        var e = Assert.Throws<ShapeMismatchException>(() => b.LinearToNchw(tokens, w, null, y, y, 1f))!;
        Assert.That(e.Message, Does.Contain("linear to nchw").And.Contain(tokens.Shape.ToString()));
    }

    private static (float[] Tokens, float[] W, float[] Bias, float[] Residual) Inputs(Case c)
    {
        int seed = c.ToString().Aggregate(37, (h, ch) => unchecked(h * 31 + ch)) & 0xFFFF; // stable across runs
        return (TestData.Normal((long)c.N * c.H * c.W * c.K, seed), TestData.Normal((long)c.C * c.K, seed + 1, 1f / MathF.Sqrt(c.K)),
            TestData.Normal(c.C, seed + 2), TestData.Normal((long)c.N * c.C * c.H * c.W, seed + 3));
    }

    private static float[] Fused(Backend b, Case c)
    {
        var (tokens, w, bias, residual) = Inputs(c);
        using var tt = b.Upload(tokens, new Shape(c.N, c.H * c.W, c.K));
        using var tw = b.Upload(w, new Shape(c.C, c.K));
        using var tb = b.Upload(bias, new Shape(c.C));
        using var tr = b.Upload(residual, new Shape(c.N, c.C, c.H, c.W));
        using var ty = b.Allocate(c.N, c.C, c.H, c.W);
        b.LinearToNchw(tt, tw, tb, ty, tr, c.Scale);
        return ty.ToArray();
    }

    /// <summary>The two steps the fusion replaces: the Linear into tokens, then the transpose with residual and scale.</summary>
    private static float[] Unfused(Backend b, Case c)
    {
        var (tokens, w, bias, residual) = Inputs(c);
        using var tt = b.Upload(tokens, new Shape(c.N, c.H * c.W, c.K));
        using var tw = b.Upload(w, new Shape(c.C, c.K));
        using var tb = b.Upload(bias, new Shape(c.C));
        using var tr = b.Upload(residual, new Shape(c.N, c.C, c.H, c.W));
        using var projected = b.Allocate(c.N, c.H * c.W, c.C);
        using var ty = b.Allocate(c.N, c.C, c.H, c.W);
        b.Linear(tt, tw, tb, projected);
        b.TokensToNchw(projected, ty, tr, c.Scale);
        return ty.ToArray();
    }
}
