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
                long length = (long)channelsPerGroup * spatial;
                // (n, g) blocks are contiguous and in order.
                void Item(int item) => NormalizeGroup((float*)xp + item * length, (float*)gp, (float*)bp, (float*)yp + item * length,
                    item % groups * channelsPerGroup, channelsPerGroup, spatial, eps, activation);
                if (items > 1 && x.Length >= Activations.ParallelThreshold) Parallel.For(0, items, Item);
                else for (int i = 0; i < items; i++) Item(i);
            }
        }
    }

    /// <summary>
    /// <see cref="Forward"/> of cat(a, b) along channels without the concatenated tensor: a [batch, aChannels, spatial]
    /// and b [batch, bChannels, spatial] in, y [batch, aChannels + bChannels, spatial] out (not aliasing a or b). A group
    /// wholly in one input is read in place; the one that straddles the seam (at most one per sample) is first copied
    /// into scratch, so every group's moments and affine see the same contiguous values as after a concat: the same bits.
    /// </summary>
    public static void ForwardOfConcat(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> y, int batch, int aChannels, int bChannels, int spatial, int groups, float eps, Activation activation)
    {
        int channels = aChannels + bChannels, channelsPerGroup = channels / groups, items = batch * groups;
        if (y.Length == 0) return;
        long length = (long)channelsPerGroup * spatial, aSample = (long)aChannels * spatial, bSample = (long)bChannels * spatial;
        unsafe
        {
            fixed (float* pa = a, pbIn = b, pg = gamma, pb = beta, py = y)
            {
                nint ap = (nint)pa, bp = (nint)pbIn, gp = (nint)pg, betap = (nint)pb, yp = (nint)py;
                void Item(int item)
                {
                    int n = item / groups, firstChannel = item % groups * channelsPerGroup;
                    long start = (long)firstChannel * spatial, end = start + length; // within the sample's concat
                    float* yGroup = (float*)yp + n * (aSample + bSample) + start;
                    if (end <= aSample)
                        NormalizeGroup((float*)ap + n * aSample + start, (float*)gp, (float*)betap, yGroup, firstChannel, channelsPerGroup, spatial, eps, activation);
                    else if (start >= aSample)
                        NormalizeGroup((float*)bp + n * bSample + start - aSample, (float*)gp, (float*)betap, yGroup, firstChannel, channelsPerGroup, spatial, eps, activation);
                    else
                    {
                        // The seam group: normalise its concatenated values where y will hold them (y aliases neither input).
                        long head = aSample - start;
                        new ReadOnlySpan<float>((float*)ap + n * aSample + start, checked((int)head)).CopyTo(new Span<float>(yGroup, checked((int)head)));
                        new ReadOnlySpan<float>((float*)bp + n * bSample, checked((int)(length - head))).CopyTo(new Span<float>(yGroup + head, checked((int)(length - head))));
                        NormalizeGroup(yGroup, (float*)gp, (float*)betap, yGroup, firstChannel, channelsPerGroup, spatial, eps, activation);
                    }
                }
                if (items > 1 && y.Length >= Activations.ParallelThreshold) Parallel.For(0, items, Item);
                else for (int i = 0; i < items; i++) Item(i);
            }
        }
    }

    /// <summary>One (sample, group) block: x and y point at its first element, channels from <paramref name="firstChannel"/>.</summary>
    private static unsafe void NormalizeGroup(float* x, float* gamma, float* beta, float* y, int firstChannel,
        int channelsPerGroup, int spatial, float eps, Activation activation)
    {
        long length = (long)channelsPerGroup * spatial;
        var (mean, rstd) = Moments(x, length, eps);
        for (int c = 0; c < channelsPerGroup; c++)
        {
            int ch = firstChannel + c;
            long rowOffset = (long)c * spatial;
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
