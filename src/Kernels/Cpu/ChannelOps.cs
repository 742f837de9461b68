namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Per-(sample, channel) affine maps over NC(spatial) data: FiLM scale/shift and the time-embedding bias.
/// Each (n, c) row is one <see cref="Activations.AffineForward"/>; rows run in parallel when the tensor is large.
/// </summary>
internal static class ChannelOps
{
    /// <summary>
    /// y = act(x·(1 + scale) + shift), scale = ss[n, 0..C), shift = ss[n, C..2C); x and y [batch, channels, spatial],
    /// ss [batch, 2·channels]; y may be x.
    /// </summary>
    public static void ScaleShift(ReadOnlySpan<float> x, ReadOnlySpan<float> scaleShift, Span<float> y, int batch, int channels, int spatial, Activation activation)
    {
        CheckLengths("scale shift", x, y, batch, channels, spatial);
        unsafe
        {
            fixed (float* px = x, ps = scaleShift, py = y)
            {
                nint xp = (nint)px, sp = (nint)ps, yp = (nint)py;
                ForRows(batch * channels, spatial, row =>
                {
                    int n = row / channels, c = row % channels;
                    float* ss = (float*)sp + 2L * n * channels;
                    Row((float*)xp, (float*)yp, row, spatial, 1f + ss[c], ss[channels + c], activation);
                });
            }
        }
    }

    /// <summary>
    /// y[n, c, :] = x[n, c, :] + biasScale · bias[n·biasStride + biasOffset + c]; x and y [batch, channels, spatial]; the
    /// bias rows are a column slice of a [batch, biasStride] matrix (biasStride = channels, offset 0: a plain [batch,
    /// channels]); y may be x. With biasScale 1 the product is exact, so the sum is x + bias.
    /// </summary>
    public static void AddChannelBias(ReadOnlySpan<float> x, ReadOnlySpan<float> bias, Span<float> y, int batch, int channels, int spatial,
        int biasOffset, int biasStride, float biasScale = 1f)
    {
        CheckLengths("add channel bias", x, y, batch, channels, spatial);
        unsafe
        {
            fixed (float* px = x, pb = bias, py = y)
            {
                nint xp = (nint)px, bp = (nint)pb, yp = (nint)py;
                ForRows(batch * channels, spatial, row =>
                {
                    int n = row / channels, c = row - n * channels;
                    Row((float*)xp, (float*)yp, row, spatial, 1f, biasScale * ((float*)bp)[(long)n * biasStride + biasOffset + c], Activation.Identity);
                });
            }
        }
    }

    private static void CheckLengths(string op, ReadOnlySpan<float> x, Span<float> y, int batch, int channels, int spatial)
    {
    }

    private static unsafe void Row(float* x, float* y, int row, int spatial, float scale, float shift, Activation activation)
    {
        long offset = (long)row * spatial;
        Activations.AffineForward(new ReadOnlySpan<float>(x + offset, spatial), new Span<float>(y + offset, spatial), scale, shift, activation);
    }

    /// <summary>Runs rows in contiguous blocks of at least ~half the parallel threshold, in parallel when the total is large.</summary>
    private static void ForRows(int rows, int spatial, Action<int> row)
    {
        long total = (long)rows * spatial;
        if (total < Activations.ParallelThreshold || rows < 2)
        {
            for (int r = 0; r < rows; r++) row(r);
            return;
        }
        int blocks = (int)Math.Min(Math.Min(rows, 4 * Environment.ProcessorCount), total / (Activations.ParallelThreshold / 2));
        Parallel.For(0, blocks, b =>
        {
            int start = (int)((long)rows * b / blocks), end = (int)((long)rows * (b + 1) / blocks);
            for (int r = start; r < end; r++) row(r);
        });
    }
}
