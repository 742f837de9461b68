namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Group normalization over NC(spatial) data: y = act((x − μ)/√(σ² + eps)·γ[c] + β[c]) with μ and the biased
/// σ² taken over each (sample, group) block of channels/groups × spatial contiguous elements, as PyTorch.
/// </summary>
internal static class GroupNorm
{
    /// <summary>Elements averaged (in double) for the shift that centres the one-pass moments (the GPU kernel's too).</summary>
    public const int ShiftSampleLength = 64;

    /// <summary>
    /// x and y [batch, channels, spatial]; γ and β [channels]; <paramref name="activation"/> is an
    /// <see cref="Activations"/> code applied after the affine. Parallel over (sample, group); y may be x.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y,
        int batch, int channels, int spatial, int groups, float eps, Activation activation)
    {
        int channelsPerGroup = channels / groups, items = batch * groups;
        if (x.Length == 0) return;
        unsafe
        {
            fixed (float* px = x, pg = gamma, pb = beta, py = y)
            {
                nint xp = (nint)px, gp = (nint)pg, bp = (nint)pb, yp = (nint)py;
                void Item(int item) =>
                    NormalizeGroup((float*)xp, (float*)gp, (float*)bp, (float*)yp, item, groups, channelsPerGroup, spatial, eps, activation);
                if (items > 1 && x.Length >= Activations.ParallelThreshold) Parallel.For(0, items, Item);
                else for (int i = 0; i < items; i++) Item(i);
            }
        }
    }

    private static unsafe void NormalizeGroup(float* x, float* gamma, float* beta, float* y, int item, int groups,
        int channelsPerGroup, int spatial, float eps, Activation activation)
    {
        long length = (long)channelsPerGroup * spatial;
        long offset = item * length; // (n, g) blocks are contiguous and in order
        var (mean, rstd) = Moments(x + offset, length, eps);
        int firstChannel = item % groups * channelsPerGroup;
        for (int c = 0; c < channelsPerGroup; c++)
        {
            int ch = firstChannel + c;
            long rowOffset = offset + (long)c * spatial;
            Activations.AffineForward(new ReadOnlySpan<float>(x + rowOffset, spatial), new Span<float>(y + rowOffset, spatial),
                (float)(gamma[ch] * rstd), beta[ch], activation, center: (float)mean);
        }
    }

    /// <summary>
    /// Mean and 1/√(biased variance + eps) in one pass over the data: sums of x − K where K, the mean of the first
    /// few elements, is near μ, so Σ(x−K)²/n − (Σ(x−K)/n)² does not cancel catastrophically.
    /// </summary>
    private static unsafe (double Mean, double Rstd) Moments(float* x, long n, float eps)
    {
        int head = (int)Math.Min(n, ShiftSampleLength);
        double k = 0;
        for (int i = 0; i < head; i++) k += x[i];
        float shift = (float)(k / head);
        var (sum, squares) = Reductions.ShiftedSums(x, n, shift);
        double meanShift = sum / n;
        double variance = Math.Max(squares / n - meanShift * meanShift, 0);
        return (shift + meanShift, 1 / Math.Sqrt(variance + eps));
    }
}
