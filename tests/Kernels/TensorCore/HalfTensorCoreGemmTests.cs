using DiffusionKernels.Kernels.Cpu;
using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// GEMM version 4 (fp16/bf16 tensor cores) against the CPU backend's SGEMM on odd shapes: on inputs rounded to the
/// 16-bit format at the fp32 tolerance, and on the plain fp32 inputs within the format's rounding bound.
/// </summary>
public class HalfTensorCoreGemmTests
{
    /// <summary>Unit roundoff u of a format (2^-11 for fp16's 11 significant bits, 2^-8 for bf16's 8) and its absolute
    /// rounding step below the normal range (half fp16's smallest subnormal, 2^-25; bf16's is far below any value here).</summary>
    internal static (double U, double Subnormal) Rounding(string format) =>
        format == "bf16" ? (Math.Pow(2, -8), 0.0) : (Math.Pow(2, -11), Math.Pow(2, -25));

    internal static float Round(string format, float v) => format == "bf16" ? MmaHalfTests.RoundBf16(v) : MmaHalfTests.RoundFp16(v);

    // m, n, k, batch, B stored [N, K], bias, SiLU, alpha: across the 64×64 tile and the 32-deep K slice by a little,
    // odd K (a slice whose last word holds one value).
    private static IEnumerable<object[]> Tiny() =>
    [
        [1, 1, 1, 1, true, true, false, 1f],
        [17, 9, 13, 1, true, true, true, 1f],
        [65, 70, 33, 1, false, false, false, 0.5f],
        [3, 66, 41, 2, false, true, true, -1.5f],
        [70, 5, 64, 1, true, false, false, 1f],
    ];

    private static IEnumerable<object[]> CudaShapes() =>
    [
        [128, 512, 128, 1, true, true, true, 1f], [333, 65, 257, 3, false, false, false, 0.125f], [2048, 256, 256, 1, true, true, false, 1f],
    ];

    private static IEnumerable<TestCaseData> Cases() =>
        GpuTargets.Cases(Tiny().SelectMany(c => new[] { c.Prepend("fp16").ToArray(), c.Prepend("bf16").ToArray() }),
            CudaShapes().SelectMany(c => new[] { c.Prepend("fp16").ToArray(), c.Prepend("bf16").ToArray() }));

    [TestCaseSource(nameof(Cases))]
    public void MatchesCpuGemm(string format, int m, int n, int k, int batch, bool transB, bool withBias, bool silu, float alpha, string device)
    {
        var a = TestData.Normal((long)batch * m * k, 31);
        var b = TestData.Normal((long)batch * k * n, 32, 1f / MathF.Sqrt(k));
        var bias = withBias ? TestData.Normal(n, 33) : [];
        var actual = RunHalf(device, MmaHalfTests.Format(format), a, b, bias, m, n, k, batch, transB, silu, alpha);

        // 1. Inputs rounded to the format on both sides, fp32 accumulation: only the summation order differs, the
        //    project's fp32 bound (1e-5 of the largest output) applies.
        var rounded = Reference([.. a.Select(v => Round(format, v))], [.. b.Select(v => Round(format, v))], bias, m, n, k, batch, transB, silu, alpha, out _, out _);
        Close.Assert(rounded, actual, 1e-5, $"{format} gemm vs CPU gemm on {format}-rounded inputs");

        // 2. Against the fp32 product, element by element: rounding a and b moves them by ≤ u relative (+ the
        //    subnormal step s), so a product by ≤ (2u + u²)|a·b| + 1.01·s(|a| + |b|); times |alpha|, SiLU's slope
        //    (< 1.1), plus the fp32 summation bound.
        var (u, s) = Rounding(format);
        var exact = Reference(a, b, bias, m, n, k, batch, transB, silu, alpha, out var absProducts, out var absInputs);
        double maxRef = exact.Max(v => Math.Abs(v));
        for (int i = 0; i < exact.Length; i++)
        {
            double bound = 1.1 * Math.Abs(alpha) * ((2 * u + u * u) * absProducts[i] + 1.01 * s * absInputs[i]) + 1e-5 * maxRef;
            Assert.That(Math.Abs(actual[i] - exact[i]), Is.LessThanOrEqualTo(bound), $"element {i}: {actual[i]} vs fp32 {exact[i]}");
        }
        // 3. The 16-bit kernel really ran: unless every input is exact in the format, its result differs from fp32.
        Assert.That(exact.Zip(actual).Any(p => p.First != p.Second), Is.True, $"the {format} gemm equals fp32 exactly");
    }

    // The ldmatrix version reads the same fragments from the same staged words, so its mma sequence and result are
    // the shared-load version's, bit for bit (on the emulator, ldmatrix's per-lane layout is emulated; on CUDA it is
    // the instruction reading a .shared array declared in the PTX). Both B layouts, edges in M, N and K.
    private static IEnumerable<TestCaseData> LdMatrixCases() =>
        GpuTargets.Cases(new object[][] { [17, 70, 41, false], [65, 9, 33, true] }.SelectMany(c => new[] { c.Prepend("fp16").ToArray(), c.Prepend("bf16").ToArray() }),
            new object[][] { [333, 130, 257, false], [128, 512, 128, true] }.SelectMany(c => new[] { c.Prepend("fp16").ToArray(), c.Prepend("bf16").ToArray() }));

    [TestCaseSource(nameof(LdMatrixCases))]
    public void LdMatrixVersionEqualsTheSharedLoadVersion(string format, int m, int n, int k, bool transB, string device)
    {
        var a = TestData.Normal((long)m * k, 34);
        var b = TestData.Normal((long)k * n, 35, 1f / MathF.Sqrt(k));
        var bias = TestData.Normal(n, 36);
        var type = MmaHalfTests.Format(format);
        var shared = RunHalf(device, type, a, b, bias, m, n, k, 1, transB, false, 1f);
        var ldmatrix = RunHalf(device, type, a, b, bias, m, n, k, 1, transB, false, 1f, HalfGemmVersion.LdMatrix);
        for (int i = 0; i < shared.Length; i++)
            Assert.That(BitConverter.SingleToUInt32Bits(ldmatrix[i]), Is.EqualTo(BitConverter.SingleToUInt32Bits(shared[i])), $"element {i}: ldmatrix {ldmatrix[i]} vs shared loads {shared[i]}");
        var rounded = Reference([.. a.Select(v => Round(format, v))], [.. b.Select(v => Round(format, v))], bias, m, n, k, 1, transB, false, 1f, out _, out _);
        Close.Assert(rounded, ldmatrix, 1e-5, $"{format} ldmatrix gemm vs CPU gemm on rounded inputs");
    }

    private static float[] RunHalf(string device, HalfType type, float[] a, float[] b, float[] bias, int m, int n, int k, int batch, bool transB, bool silu, float alpha,
        HalfGemmVersion version = HalfGemmVersion.SharedLoads)
    {
        var backend = TestBackends.Ilgpu(device);
        var acc = backend.Accelerator;
        var kernels = new HalfTensorCoreGemmKernels(acc);
        Assert.That(kernels.IsAvailable, Is.True, "the emulator and CUDA devices fit the 128-thread tiles");
        using var da = acc.Allocate1D(a);
        using var db = acc.Allocate1D(b);
        using var dbias = acc.Allocate1D(bias.Length == 0 ? [0f] : bias);
        using var dc = acc.Allocate1D(Enumerable.Repeat(float.NaN, batch * m * n).ToArray()); // every element must be written
        var p = new GemmParams
        {
            M = m,
            N = n,
            K = k,
            Lda = k,
            Ldb = transB ? k : n,
            Ldc = n,
            StrideA = (long)m * k,
            StrideB = (long)k * n,
            StrideC = (long)m * n,
            TransB = transB ? 1 : 0,
            Alpha = alpha,
            Activation = silu ? DiffusionKernels.Kernels.Activation.SiLU : DiffusionKernels.Kernels.Activation.Identity,
        };
        kernels.Run(backend.Stream, type, version, da.View, db.View, dc.View, bias.Length == 0 ? ArrayView<float>.Empty : dbias.View, dc.View, p, batch);
        backend.Stream.Synchronize();
        return dc.GetAsArray1D();
    }

    /// <summary>The CPU backend's SGEMM per batch, then bias and SiLU in double; also Σ_k |a·b| and Σ_k (|a| + |b|) per output.</summary>
    private static float[] Reference(float[] a, float[] b, float[] bias, int m, int n, int k, int batch, bool transB, bool silu, float alpha,
        out double[] absProducts, out double[] absInputs)
    {
        var c = new float[batch * m * n];
        absProducts = new double[c.Length];
        absInputs = new double[c.Length];
        for (int z = 0; z < batch; z++)
        {
            Sgemm.Multiply(false, transB, m, n, k, alpha, a.AsSpan(z * m * k, m * k), k, b.AsSpan(z * k * n, k * n), transB ? k : n, 0f, c.AsSpan(z * m * n, m * n), n);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double products = 0, inputs = 0;
                    for (int q = 0; q < k; q++)
                    {
                        double av = Math.Abs(a[z * m * k + i * k + q]), bv = Math.Abs(b[z * k * n + (transB ? j * k + q : q * n + j)]);
                        products += av * bv;
                        inputs += av + bv;
                    }
                    int o = z * m * n + i * n + j;
                    absProducts[o] = products;
                    absInputs[o] = inputs;
                    double v = c[o] + (bias.Length > 0 ? bias[j] : 0);
                    c[o] = (float)(silu ? v / (1 + Math.Exp(-v)) : v);
                }
        }
        return c;
    }
}
