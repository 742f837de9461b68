using System.Numerics;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// y = act(x·wᵀ + b) with PyTorch <c>nn.Linear</c> weights w [N, K]: one SGEMM plus a bias/activation pass. The
/// epilogue applies <see cref="ActivationMath"/>, the same scalar code as the GPU GEMM's epilogue.
/// </summary>
internal static unsafe class Linear
{
    // Rows per parallel chunk of the epilogue are sized so each chunk has at least this many elements.
    private const int EpilogueChunk = 1 << 15;

    /// <summary>
    /// x [M, K], w [N, K], bias [N] (empty for none), y [M, N], all row-major and dense.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        int m, int n, int k, Activation activation)
    {
        Sgemm.Multiply(false, true, m, n, k, 1f, x, k, w, k, 0f, y, n);
        if (bias.Length == 0 && activation == Activation.Identity) return;

        fixed (float* py = y, pb = bias)
        {
            float* yp = py, bp = bias.Length == 0 ? null : pb;
            int rowsPerChunk = Math.Max(1, EpilogueChunk / Math.Max(1, n));
            int chunks = (m + rowsPerChunk - 1) / rowsPerChunk;
            if (chunks <= 1) Epilogue(yp, bp, 0, m, n, activation);
            else Parallel.For(0, chunks, i => Epilogue(yp, bp, i * rowsPerChunk, Math.Min(m, (i + 1) * rowsPerChunk), n, activation));
        }
    }

    private static void Epilogue(float* y, float* bias, int row0, int row1, int n, Activation activation)
    {
        for (int r = row0; r < row1; r++)
        {
            var row = new Span<float>(y + (long)r * n, n);
            if (bias != null)
            {
                var b = new ReadOnlySpan<float>(bias, n);
                int j = 0;
                for (int w = Vector<float>.Count; j <= n - w; j += w)
                    (new Vector<float>(row.Slice(j)) + new Vector<float>(b.Slice(j))).CopyTo(row.Slice(j));
                for (; j < n; j++) row[j] += b[j];
            }
            if (activation != Activation.Identity)
                for (int j = 0; j < n; j++) row[j] = ActivationMath.Apply(row[j], activation);
        }
    }
}
