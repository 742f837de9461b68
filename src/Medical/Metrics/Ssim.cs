namespace DiffusionKernels.Medical.Metrics;

/// <summary>
/// Structural similarity (Wang et al. 2004) with an 11×11 Gaussian window (σ = 1.5, truncated at 3.5σ, normalized),
/// K1 = 0.01, K2 = 0.03 and population (not sample) covariances, averaged over the valid region where the window
/// fits inside the image: the same number as skimage's <c>structural_similarity(gaussian_weights=True, sigma=1.5,
/// use_sample_covariance=False, data_range=R)</c>. Images are [planes, H, W]; the result is the mean over planes.
/// </summary>
public static class Ssim
{
    /// <summary>Window radius: int(3.5·1.5 + 0.5) = 5, so 11 taps.</summary>
    public const int Radius = 5;

    /// <summary>The smallest image side SSIM is defined on: one whole 11×11 window.</summary>
    public const int MinSize = 2 * Radius + 1;
    private const double Sigma = 1.5, K1 = 0.01, K2 = 0.03;

    /// <summary>
    /// Mean SSIM of <paramref name="test"/> against <paramref name="reference"/> ([planes, H, W], H and W ≥ 11);
    /// <paramref name="dataRange"/> defaults to max − min of the reference.
    /// </summary>
    public static double Compute(ReadOnlySpan<float> reference, ReadOnlySpan<float> test, int height, int width, double? dataRange = null)
    {
        ImageMetricChecks.SameLength("ssim", reference, test);
        const int win = MinSize;
        if (height < win || width < win) throw new ArgumentException($"ssim: images must be at least {win}×{win}, found {height}×{width}", nameof(height));
        if (reference.Length % ((long)height * width) != 0)
            throw new ArgumentException($"ssim: {reference.Length} elements are not whole {height}×{width} planes", nameof(height));
        double range = ImageMetricChecks.Range("ssim", reference, dataRange);
        double c1 = K1 * range * K1 * range, c2 = K2 * range * K2 * range;
        var g = Window();
        int planes = reference.Length / (height * width), vh = height - win + 1, vw = width - win + 1;
        double total = 0;
        // Row-filtered moments for the valid columns, then column filtering per valid pixel.
        var rows = new double[5][];
        for (int k = 0; k < 5; k++) rows[k] = new double[height * vw];
        for (int p = 0; p < planes; p++)
        {
            var x = reference.Slice(p * height * width, height * width);
            var y = test.Slice(p * height * width, height * width);
            for (int i = 0; i < height; i++)
                for (int j = 0; j < vw; j++)
                {
                    double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
                    for (int t = 0; t < win; t++)
                    {
                        double a = x[i * width + j + t], b = y[i * width + j + t], wt = g[t];
                        mx += wt * a; my += wt * b; xx += wt * a * a; yy += wt * b * b; xy += wt * a * b;
                    }
                    int at = i * vw + j;
                    rows[0][at] = mx; rows[1][at] = my; rows[2][at] = xx; rows[3][at] = yy; rows[4][at] = xy;
                }
            double sum = 0;
            for (int i = 0; i < vh; i++)
                for (int j = 0; j < vw; j++)
                {
                    double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
                    for (int t = 0; t < win; t++)
                    {
                        int at = (i + t) * vw + j;
                        double wt = g[t];
                        mx += wt * rows[0][at]; my += wt * rows[1][at]; xx += wt * rows[2][at]; yy += wt * rows[3][at]; xy += wt * rows[4][at];
                    }
                    double vx = xx - mx * mx, vy = yy - my * my, cov = xy - mx * my;
                    sum += (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
                }
            total += sum / ((double)vh * vw);
        }
        return total / planes;
    }

    /// <summary>The normalized 1-D Gaussian taps (the 2-D window is their outer product).</summary>
    public static double[] Window()
    {
        var g = new double[2 * Radius + 1];
        double s = 0;
        for (int t = -Radius; t <= Radius; t++) s += g[t + Radius] = Math.Exp(-t * t / (2 * Sigma * Sigma));
        for (int t = 0; t < g.Length; t++) g[t] /= s;
        return g;
    }
}
