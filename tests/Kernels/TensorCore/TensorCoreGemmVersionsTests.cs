using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// The later tensor-core GEMM versions against a double-precision reference with the full epilogue: split-K with its
/// deterministic reduction (split factors that do not divide K, slices shorter than a stage), 128×128 tiles (edges of
/// the 128 tile and of the 32-deep stage), and 3xTF32 (fp32-level error, where plain TF32 errs ≥ 10× more).
/// </summary>
public class TensorCoreGemmVersionsTests
{
    /// <summary>Bias: 0 none, 1 per column, 2 per row. Residual: added after the activation, the sum halved.</summary>
    public sealed record GemmCase(int M, int N, int K, int Batch, bool TransB, int Bias, bool Silu, float Alpha, bool Residual, int Slices = 1)
    {
        public override string ToString() => $"{Batch}x{M}x{N}x{K}{(TransB ? "T" : "")} bias{Bias}{(Silu ? " silu" : "")} a{Alpha}{(Residual ? " res" : "")} S{Slices}";
    }

    private static IEnumerable<GemmCase> SplitCases() =>
    [
        new(17, 9, 70, 1, true, 1, true, 1f, false, 3),     // slices 32, 32, 6
        new(3, 66, 100, 1, false, 2, false, 0.5f, true, 4), // slices 32, 32, 32, 4 across the 64 column edge; per-row bias, residual
        new(65, 2, 64, 1, true, 0, false, -1.5f, true, 2),  // slices that divide K, across the 64 row edge
    ];

    private static IEnumerable<GemmCase> SplitCudaCases() =>
    [
        new(256, 16, 2304, 1, true, 2, false, 1f, true, 15), new(333, 65, 1000, 3, false, 1, true, 0.25f, false, 7), new(65, 70, 130, 2, false, 2, false, 0.5f, true, 4),
    ];

    private static IEnumerable<GemmCase> Tile128Cases() =>
    [
        new(1, 1, 1, 1, true, 1, false, 1f, false),
        new(3, 130, 40, 1, false, 1, true, 1f, false),     // one column past the 128 tile, k past the stage
        new(129, 7, 33, 1, true, 2, false, 0.5f, true),    // one row past it; per-row bias and residual
    ];

    private static IEnumerable<GemmCase> Tile128CudaCases() => [new(130, 129, 40, 2, false, 1, true, 1f, false), new(1000, 1030, 515, 2, false, 1, true, 1f, true), new(2048, 256, 256, 1, true, 2, false, 1f, false)];

    private static IEnumerable<TestCaseData> Split() => GpuTargets.Cases(SplitCases(), SplitCudaCases());

    private static IEnumerable<TestCaseData> Tile128() => GpuTargets.Cases(Tile128Cases(), Tile128CudaCases());

    [TestCaseSource(nameof(Split))]
    public void SplitKMatchesReferenceAndIsReproducible(GemmCase c, string device)
    {
        var (a, b, bias, residual) = Inputs(c);
        var launch = new TensorCoreLaunch(TensorCoreTileShape.Tile64, c.Slices);
        Assert.That(TensorCoreGemmKernels.WorkspaceFloats(c.M, c.N, c.K, c.Batch, launch), Is.GreaterThan(0), "the case really splits K");
        var first = Run(device, c, a, b, bias, residual, (k, s, va, vb, vc, vbias, vres, p, ws) => k.Run(s, va, vb, vc, vbias, vres, p, c.Batch, launch, ws));
        // 1. TF32-rounded inputs in double: only the fp32 summation (≤ 257 products, in slices) differs: 1e-5.
        var rounded = Reference(c, [.. a.Select(TensorCoreGemmTests.RoundTf32)], [.. b.Select(TensorCoreGemmTests.RoundTf32)], bias, residual);
        Close.Assert(rounded, first, 1e-5, $"split-K {c} vs reference on TF32-rounded inputs");
        // 2. No atomics: the same bits on every run.
        var second = Run(device, c, a, b, bias, residual, (k, s, va, vb, vc, vbias, vres, p, ws) => k.Run(s, va, vb, vc, vbias, vres, p, c.Batch, launch, ws));
        Close.Identical(first, second, $"split-K {c}, second run");
    }

    [TestCaseSource(nameof(Tile128))]
    public void Tile128MatchesReference(GemmCase c, string device)
    {
        var (a, b, bias, residual) = Inputs(c);
        var launch = new TensorCoreLaunch(TensorCoreTileShape.Tile128, 1);
        var actual = Run(device, c, a, b, bias, residual, (k, s, va, vb, vc, vbias, vres, p, ws) =>
        {
            Assert.That(k.Has128, Is.True, "the emulator and CUDA devices fit the 256-thread tiles");
            k.Run(s, va, vb, vc, vbias, vres, p, c.Batch, launch, ws);
        });
        var rounded = Reference(c, [.. a.Select(TensorCoreGemmTests.RoundTf32)], [.. b.Select(TensorCoreGemmTests.RoundTf32)], bias, residual);
        Close.Assert(rounded, actual, 1e-5, $"128×128 tiles {c} vs reference on TF32-rounded inputs");
    }

    private static IEnumerable<TestCaseData> ThreeTf32() => GpuTargets.Cases(
        // The emulator runs every lane's shuffle as a barrier: K ~ 100 there, K ~ 1,000 and 4,096 on CUDA.
        [new GemmCase(17, 9, 100, 1, true, 1, false, 1f, false), new GemmCase(65, 3, 40, 1, false, 2, false, 1f, true)],
        [new GemmCase(17, 9, 1003, 1, true, 1, false, 1f, false), new GemmCase(300, 200, 4096, 2, false, 1, false, 1f, false)]);

    /// <summary>
    /// 3xTF32 against the exact product in double, on fp32 inputs. Its splits move each product by ≤ 3·2⁻²² of |a·b|
    /// with random signs, and its fp32 accumulation (~3K/8 additions of partial sums per output) errs by about
    /// √(3K/8)·2⁻²⁴ of the outputs' size, ≈ 1e-6 at K ~ 1,000 (the CUDA case): the error stays at fp32's level, ≤ 2e-6
    /// of the largest output (a plain fp32 GEMM of this K errs by the same order). Plain TF32 on the same data errs by
    /// ~2⁻¹¹·E|a·b|·√K, ~1e-4 of the largest output at any K, which the test also checks, so it tells the two apart.
    /// </summary>
    [TestCaseSource(nameof(ThreeTf32))]
    public void ThreeTf32IsAtFp32Level(GemmCase c, string device)
    {
        var (a, b, bias, residual) = Inputs(c);
        var exact = Reference(c, a, b, bias, residual);
        var three = Run(device, c, a, b, bias, residual, (k, s, va, vb, vc, vbias, vres, p, _) => k.RunThreeTf32(s, va, vb, vc, vbias, vres, p, c.Batch));
        var tf32 = Run(device, c, a, b, bias, residual, (k, s, va, vb, vc, vbias, vres, p, _) => k.Run(s, va, vb, vc, vbias, vres, p, c.Batch));
        double scale = exact.Max(v => Math.Abs((double)v));
        double threeError = exact.Zip(three).Max(x => Math.Abs((double)x.First - x.Second)) / scale;
        double tf32Error = exact.Zip(tf32).Max(x => Math.Abs((double)x.First - x.Second)) / scale;
        TestContext.Out.WriteLine($"{c}: 3xTF32 error {threeError:E2}, TF32 error {tf32Error:E2} of max |ref| {scale:G4}");
        Assert.That(threeError, Is.LessThanOrEqualTo(2e-6), "3xTF32 error at fp32 level");
        Assert.That(tf32Error, Is.GreaterThan(10 * 2e-6), "plain TF32 errs visibly more on the same data");
    }

    private delegate void Launch(TensorCoreGemmKernels kernels, AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        ArrayView<float> bias, ArrayView<float> residual, GemmParams p, ArrayView<float> workspace);

    private static (float[] A, float[] B, float[] Bias, float[] Residual) Inputs(GemmCase c) =>
        (TestData.Normal((long)c.Batch * c.M * c.K, 131),
         TestData.Normal((long)c.Batch * c.K * c.N, 132, 1f / MathF.Sqrt(c.K)),
         c.Bias == 0 ? [] : TestData.Normal(c.Bias == 2 ? c.M : c.N, 133),
         c.Residual ? TestData.Normal((long)c.Batch * c.M * c.N, 134) : []);

    private static float[] Run(string device, GemmCase c, float[] a, float[] b, float[] bias, float[] residual, Launch launch)
    {
        var backend = TestBackends.Ilgpu(device);
        var acc = backend.Accelerator;
        var kernels = new TensorCoreGemmKernels(acc);
        using var da = acc.Allocate1D(a);
        using var db = acc.Allocate1D(b);
        using var dbias = acc.Allocate1D(bias.Length == 0 ? [0f] : bias);
        // Every element must be written; with a residual, C holds it (read, then overwritten in place).
        using var dc = acc.Allocate1D(c.Residual ? residual : Enumerable.Repeat(float.NaN, c.Batch * c.M * c.N).ToArray());
        using var workspace = acc.Allocate1D(Enumerable.Repeat(float.NaN, (int)Math.Max(1, TensorCoreGemmKernels.WorkspaceFloats(c.M, c.N, c.K, c.Batch, new TensorCoreLaunch(TensorCoreTileShape.Tile64, c.Slices)))).ToArray());
        var p = new GemmParams
        {
            M = c.M,
            N = c.N,
            K = c.K,
            Lda = c.K,
            Ldb = c.TransB ? c.K : c.N,
            Ldc = c.N,
            StrideA = (long)c.M * c.K,
            StrideB = (long)c.K * c.N,
            StrideC = (long)c.M * c.N,
            TransB = c.TransB ? 1 : 0,
            Alpha = c.Alpha,
            BiasPerRow = c.Bias == 2 ? 1 : 0,
            HasResidual = c.Residual ? 1 : 0,
            ResidualScale = 0.5f,
            Activation = c.Silu ? DiffusionKernels.Kernels.Activation.SiLU : DiffusionKernels.Kernels.Activation.Identity,
        };
        launch(kernels, backend.Stream, da.View, db.View, dc.View, bias.Length == 0 ? ArrayView<float>.Empty : dbias.View, dc.View, p, workspace.View);
        backend.Stream.Synchronize();
        return dc.GetAsArray1D();
    }

    /// <summary>C = (act(alpha·A·op(B) + bias) + residual) · 0.5 in double (SiLU as x·σ(x)), rounded to float at the end.</summary>
    private static float[] Reference(GemmCase c, float[] a, float[] b, float[] bias, float[] residual)
    {
        var y = new float[c.Batch * c.M * c.N];
        for (int z = 0; z < c.Batch; z++)
            for (int i = 0; i < c.M; i++)
                for (int j = 0; j < c.N; j++)
                {
                    double sum = 0;
                    for (int q = 0; q < c.K; q++)
                        sum += (double)a[((long)z * c.M + i) * c.K + q] * b[c.TransB ? ((long)z * c.N + j) * c.K + q : ((long)z * c.K + q) * c.N + j];
                    double v = c.Alpha * sum + (c.Bias == 1 ? bias[j] : c.Bias == 2 ? bias[i] : 0);
                    if (c.Silu) v /= 1 + Math.Exp(-v);
                    int o = (z * c.M + i) * c.N + j;
                    if (c.Residual) v = (v + residual[o]) * 0.5;
                    y[o] = (float)v;
                }
        return y;
    }
}
