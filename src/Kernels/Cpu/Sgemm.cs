namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Single-precision GEMM over row-major spans: C = alpha·op(A)·op(B) + beta·C, where op(A) is [M, K]
/// and op(B) is [K, N]. The CPU workhorse under linear, batched matmul and convolution (im2col).
/// </summary>
public static class Sgemm
{
    /// <summary>
    /// Row-major GEMM. A is [M, K] (or [K, M] when <paramref name="transA"/>) with leading dimension
    /// <paramref name="lda"/>; B is [K, N] (or [N, K] when <paramref name="transB"/>) with <paramref name="ldb"/>;
    /// C is [M, N] with <paramref name="ldc"/>. beta = 0 overwrites C without reading it.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        // Placeholder reference loop; replaced by the packed SIMD kernel.
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            float s = 0;
            for (int p = 0; p < k; p++)
                s += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
            ref float cij = ref c[i * ldc + j];
            cij = beta == 0 ? alpha * s : alpha * s + beta * cij;
        }
    }
}
