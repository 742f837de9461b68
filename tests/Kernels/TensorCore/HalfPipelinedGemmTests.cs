using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// The cp.async-pipelined half GEMM (<see cref="HalfGemmVersion.Pipelined"/>) against the ldmatrix version it feeds
/// (bit for bit) and against a double-precision product of the rounded inputs, on shapes whose M, N and K are not
/// tile multiples, with K spanning several pipeline stages, batch &gt; 1 and the full epilogue (bias, SiLU, residual).
/// </summary>
public class HalfPipelinedGemmTests
{
    // m, n, k, batch, B stored [N, K], epilogue (bias + SiLU + residual): K = 97 is 4 slices (both buffers reused
    // twice, a last slice of one value); K = 68 with A and B [N, K] rows 68 floats apart takes the 16-byte copies on
    // an aligned view (its last slice partial); N = 70 and 66 give [K, N] rows that are only partly 16-byte aligned.
    private static IEnumerable<object[]> Shapes() =>
    [
        [17, 70, 97, 2, false, true],
        [65, 9, 68, 1, true, false],
        [3, 66, 33, 1, false, true],
    ];

    private static IEnumerable<TestCaseData> Cases() =>
        GpuTargets.Cases(Shapes().SelectMany(c => new[] { c.Prepend("fp16").ToArray(), c.Prepend("bf16").ToArray() }),
            new object[][] { ["fp16", 333, 130, 257, 3, false, true], ["bf16", 128, 512, 128, 1, true, true] });

    [TestCaseSource(nameof(Cases))]
    public void MatchesTheLdMatrixVersionAndTheRoundedProduct(string format, int m, int n, int k, int batch, bool transB, bool epilogue, string device)
    {
        var a = TestData.Normal((long)batch * m * k, 41);
        var b = TestData.Normal((long)batch * k * n, 42, 1f / MathF.Sqrt(k));
        var bias = epilogue ? TestData.Normal(n, 43) : [];
        var residual = epilogue ? TestData.Normal((long)batch * m * n, 44) : [];
        var type = MmaHalfTests.Format(format);
        var pipelined = Run(device, type, HalfGemmVersion.Pipelined, a, b, bias, residual, m, n, k, batch, transB, 0);
        var ldmatrix = Run(device, type, HalfGemmVersion.LdMatrix, a, b, bias, residual, m, n, k, batch, transB, 0);
        AssertSameBits(pipelined, ldmatrix);

        // Rounded inputs on both sides, fp32 accumulation against double: only the summation order differs, the
        // project's fp32 bound (1e-5 of the largest output) applies; SiLU's slope is < 1.1 and the residual adds exactly.
        var expected = Reference([.. a.Select(v => HalfTensorCoreGemmTests.Round(format, v))], [.. b.Select(v => HalfTensorCoreGemmTests.Round(format, v))],
            bias, residual, m, n, k, batch, transB);
        Close.Assert(expected, pipelined, 1e-5, $"pipelined {format} gemm vs the rounded product");
    }

    // Views that start one float past a 16-byte boundary: no 16-byte copy is aligned, every chunk takes the 4-byte
    // copies (their zero fill at the edges included); the result must not change.
    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void MisalignedViewsTakeTheFourByteCopies(string device)
    {
        const int m = 9, n = 12, k = 40, batch = 1;
        var a = TestData.Normal(m * k, 45);
        var b = TestData.Normal(k * n, 46, 1f / MathF.Sqrt(k));
        var pipelined = Run(device, HalfType.Fp16, HalfGemmVersion.Pipelined, a, b, [], [], m, n, k, batch, true, 1);
        var ldmatrix = Run(device, HalfType.Fp16, HalfGemmVersion.LdMatrix, a, b, [], [], m, n, k, batch, true, 1);
        AssertSameBits(pipelined, ldmatrix);
        var aligned = Run(device, HalfType.Fp16, HalfGemmVersion.Pipelined, a, b, [], [], m, n, k, batch, true, 0);
        AssertSameBits(pipelined, aligned);
    }

    private static void AssertSameBits(float[] actual, float[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        for (int i = 0; i < actual.Length; i++)
            Assert.That(BitConverter.SingleToUInt32Bits(actual[i]), Is.EqualTo(BitConverter.SingleToUInt32Bits(expected[i])), $"element {i}: {actual[i]} vs {expected[i]}");
    }

    /// <summary>Runs one version with A and B placed <paramref name="offset"/> floats into their buffers (0: the buffer's own, 16-byte aligned, start).</summary>
    private static float[] Run(string device, HalfType type, HalfGemmVersion version, float[] a, float[] b, float[] bias, float[] residual,
        int m, int n, int k, int batch, bool transB, int offset)
    {
        var backend = TestBackends.Ilgpu(device);
        var acc = backend.Accelerator;
        var kernels = new HalfTensorCoreGemmKernels(acc);
        using var da = acc.Allocate1D(new float[offset].Concat(a).ToArray());
        using var db = acc.Allocate1D(new float[offset].Concat(b).ToArray());
        using var dbias = acc.Allocate1D(bias.Length == 0 ? [0f] : bias);
        using var dres = acc.Allocate1D(residual.Length == 0 ? [0f] : residual);
        using var dc = acc.Allocate1D(Enumerable.Repeat(float.NaN, batch * m * n).ToArray()); // every element must be written
        ArrayView<float> aView = da.View.SubView(offset, a.Length);
        ArrayView<float> bView = db.View.SubView(offset, b.Length);
        long misalignment = (aView.LoadEffectiveAddressAsPtr().ToInt64() | bView.LoadEffectiveAddressAsPtr().ToInt64()) & 15;
        Assert.That(misalignment == 0, Is.EqualTo(offset == 0), "the views start where the case means them to (16-byte aligned or not)");
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
            Alpha = 0.75f,
            HasResidual = residual.Length > 0 ? 1 : 0,
            ResidualScale = 0.5f,
            Activation = residual.Length > 0 ? DiffusionKernels.Kernels.Activation.SiLU : DiffusionKernels.Kernels.Activation.Identity,
        };
        kernels.Run(backend.Stream, type, version, aView, bView, dc.View, bias.Length == 0 ? ArrayView<float>.Empty : dbias.View, dres.View, p, batch);
        backend.Stream.Synchronize();
        return dc.GetAsArray1D();
    }

    /// <summary>act(0.75·A·op(B) + bias) (then (· + residual)·0.5 with a residual), in double.</summary>
    private static float[] Reference(float[] a, float[] b, float[] bias, float[] residual, int m, int n, int k, int batch, bool transB)
    {
        var c = new float[batch * m * n];
        for (int z = 0; z < batch; z++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int q = 0; q < k; q++)
                        sum += (double)a[(z * m + i) * k + q] * b[z * k * n + (transB ? j * k + q : q * n + j)];
                    double v = 0.75 * sum + (bias.Length > 0 ? bias[j] : 0);
                    int o = (z * m + i) * n + j;
                    if (residual.Length > 0) v = (v / (1 + Math.Exp(-v)) + residual[o]) * 0.5;
                    c[o] = (float)v;
                }
        return c;
    }
}
