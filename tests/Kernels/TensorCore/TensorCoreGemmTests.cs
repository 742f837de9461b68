using DiffusionKernels.Kernels.Cpu;
using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// GEMM version 3 (TF32 tensor cores) against the CPU backend's SGEMM on odd shapes: bit-for-bit TF32 inputs at the
/// fp32 tolerance, and the plain fp32 product within TF32's rounding bound.
/// </summary>
public class TensorCoreGemmTests
{
    /// <summary>cvt.rna.tf32.f32 written independently: add half a TF32 ulp to the magnitude bits, drop 13 bits.</summary>
    internal static float RoundTf32(float v) =>
        float.IsFinite(v) ? BitConverter.UInt32BitsToSingle((BitConverter.SingleToUInt32Bits(v) + 0x1000u) & ~0x1FFFu) : v;

    // m, n, k, batch, B stored [N, K], bias, SiLU, alpha. Shapes cross the 64×64 tile and the 32-deep K stage on
    // both sides by a little (the emulator runs every GPU thread as an OS thread: keep them tiny).
    private static IEnumerable<object[]> Tiny() =>
    [
        [1, 1, 1, 1, true, true, false, 1f],
        [17, 9, 13, 1, true, true, true, 1f],
        [65, 70, 33, 1, false, false, false, 0.5f],
        [3, 66, 40, 2, false, true, true, -1.5f],
        [70, 5, 64, 1, true, false, false, 1f],
    ];

    private static IEnumerable<object[]> CudaShapes() =>
    [
        [128, 512, 128, 1, true, true, true, 1f], [333, 65, 257, 3, false, false, false, 0.125f], [2048, 256, 256, 1, true, true, false, 1f],
    ];

    private static IEnumerable<TestCaseData> Cases() => GpuTargets.Cases(Tiny(), CudaShapes());

    [TestCaseSource(nameof(Cases))]
    public void MatchesCpuGemm(int m, int n, int k, int batch, bool transB, bool withBias, bool silu, float alpha, string device)
    {
        var a = TestData.Normal((long)batch * m * k, 31);
        var b = TestData.Normal((long)batch * k * n, 32, 1f / MathF.Sqrt(k));
        var bias = withBias ? TestData.Normal(n, 33) : [];
        var actual = RunTensorCore(device, a, b, bias, m, n, k, batch, transB, silu, alpha);

        // 1. Same TF32 inputs, fp32 accumulation on both sides: only the summation order differs, the project's
        //    fp32 bound (1e-5 of the largest output) applies.
        var rounded = Reference([.. a.Select(RoundTf32)], [.. b.Select(RoundTf32)], bias, m, n, k, batch, transB, silu, alpha, out _);
        Close.Assert(rounded, actual, 1e-5, "tf32 gemm vs CPU gemm on TF32-rounded inputs");

        // 2. Against the fp32 product: rounding each input to TF32 moves it by ≤ 2^-11 relative, so each product by
        //    ≤ 2^-10 (+2^-22), and the sum by ≤ 2^-10·|alpha|·Σ|a||b|; SiLU's slope is below 1.1; plus the fp32
        //    summation bound. Checked element by element.
        var exact = Reference(a, b, bias, m, n, k, batch, transB, silu, alpha, out var absSums);
        double maxRef = exact.Max(v => Math.Abs(v));
        for (int i = 0; i < exact.Length; i++)
        {
            double bound = 1.1 * (Math.Pow(2, -10) + Math.Pow(2, -22)) * Math.Abs(alpha) * absSums[i] + 1e-5 * maxRef;
            Assert.That(Math.Abs(actual[i] - exact[i]), Is.LessThanOrEqualTo(bound), $"element {i}: {actual[i]} vs fp32 {exact[i]}");
        }
    }

    private static float[] RunTensorCore(string device, float[] a, float[] b, float[] bias, int m, int n, int k, int batch, bool transB, bool silu, float alpha)
    {
        var backend = TestBackends.Ilgpu(device);
        var acc = backend.Accelerator;
        var kernels = new TensorCoreGemmKernels(acc);
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
        kernels.Run(backend.Stream, da.View, db.View, dc.View, bias.Length == 0 ? ArrayView<float>.Empty : dbias.View, dc.View, p, batch);
        backend.Stream.Synchronize();
        return dc.GetAsArray1D();
    }

    /// <summary>The CPU backend's SGEMM per batch, then bias and SiLU (x·σ(x)) in double; also Σ_k |a||b| per output.</summary>
    private static float[] Reference(float[] a, float[] b, float[] bias, int m, int n, int k, int batch, bool transB, bool silu, float alpha, out double[] absSums)
    {
        var c = new float[batch * m * n];
        absSums = new double[c.Length];
        for (int z = 0; z < batch; z++)
        {
            Sgemm.Multiply(false, transB, m, n, k, alpha, a.AsSpan(z * m * k, m * k), k, b.AsSpan(z * k * n, k * n), transB ? k : n, 0f, c.AsSpan(z * m * n, m * n), n);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int q = 0; q < k; q++)
                        s += Math.Abs((double)a[z * m * k + i * k + q] * b[z * k * n + (transB ? j * k + q : q * n + j)]);
                    int o = z * m * n + i * n + j;
                    absSums[o] = s;
                    double v = c[o] + (bias.Length > 0 ? bias[j] : 0);
                    c[o] = (float)(silu ? v / (1 + Math.Exp(-v)) : v);
                }
        }
        return c;
    }
}
