namespace DiffusionKernels.Kernels.Cpu;

/// <summary>c[z] = alpha·a[z]·op(b[z]) over a batch of dense row-major matrices (attention scores and values).</summary>
internal static unsafe class BatchedMatMul
{
    // Below this many flops per matrix, SGEMM stays on one thread, so the batch is spread over the cores instead.
    private const double ParallelFlops = 2e6;

    // Whole matrices per thread beat splitting each one (no fork/join per matrix, no B panel packed twice) when the
    // batch divides evenly over the cores or gives each at least this many; otherwise an uneven share idles a core.
    private const int MatricesPerCore = 2;

    /// <summary>a [B, M, K]; b [B, K, N], or [B, N, K] when <paramref name="transposeB"/>; c [B, M, N].</summary>
    public static void Forward(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int batch, int m, int n, int k, bool transposeB, float alpha)
    {
        long sa = (long)m * k, sb = (long)k * n, sc = (long)m * n;
        int ldb = transposeB ? k : n;
        int cores = Environment.ProcessorCount;
        if (batch == 1 || (2.0 * m * n * k >= ParallelFlops && batch < MatricesPerCore * cores && batch % cores != 0))
        {
            for (int z = 0; z < batch; z++)
                Sgemm.Multiply(false, transposeB, m, n, k, alpha, a.Slice((int)(z * sa), (int)sa), k,
                    b.Slice((int)(z * sb), (int)sb), ldb, 0f, c.Slice((int)(z * sc), (int)sc), n);
            return;
        }
        fixed (float* pa = a, pb = b, pc = c)
        {
            float* ap = pa, bp = pb, cp = pc;
            Parallel.For(0, batch, z => Sgemm.Multiply(false, transposeB, m, n, k, alpha,
                new ReadOnlySpan<float>(ap + z * sa, (int)sa), k, new ReadOnlySpan<float>(bp + z * sb, (int)sb), ldb,
                0f, new Span<float>(cp + z * sc, (int)sc), n, maxThreads: 1));
        }
    }
}
