using DiffusionKernels.Medical.Operators;

namespace DiffusionKernels.Medical.Baselines;

/// <summary>
/// Gaussian smoothing of [planes, H, W] images (the denoising baseline), as scipy.ndimage.gaussian_filter: separable
/// normalized taps out to radius int(truncate·σ + ½), boundary mode 'reflect' (d c b a | a b c d | d c b a).
/// </summary>
public static class GaussianFilter
{
    /// <summary>The widest filter accepted, in pixels (its taps must fit in memory and an int).</summary>
    public const double MaxSigma = 10_000;

    /// <summary>Filters <paramref name="x"/> with standard deviation <paramref name="sigma"/> pixels (0 returns a copy).</summary>
    public static float[] Apply(ReadOnlySpan<float> x, int planes, int height, int width, double sigma, double truncate = 4.0)
    {
        if (planes < 1 || height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(planes), $"gaussian filter: bad size {planes}×{height}×{width}");
        if (x.Length != planes * height * width) throw new ArgumentException($"gaussian filter: input has {x.Length} elements, expected {planes}×{height}×{width}", nameof(x));
        if (!(sigma >= 0) || double.IsInfinity(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), $"gaussian filter: sigma must be ≥ 0, found {sigma}");
        if (sigma > MaxSigma) throw new ArgumentOutOfRangeException(nameof(sigma), $"gaussian filter: sigma must be at most {MaxSigma} pixels, found {sigma}");
        if (!(truncate > 0 && truncate <= 20)) throw new ArgumentOutOfRangeException(nameof(truncate), $"gaussian filter: truncate must be in (0, 20], found {truncate}");
        if (sigma == 0) return x.ToArray();
        var g = Taps(sigma, truncate);
        int radius = g.Length / 2;
        var mid = new float[x.Length];
        for (int p = 0; p < planes; p++)
            for (int r = 0; r < height; r++)
                for (int c = 0; c < width; c++)
                {
                    double s = 0;
                    for (int t = -radius; t <= radius; t++) s += g[t + radius] * x[(p * height + r) * width + Reflect(c + t, width)];
                    mid[(p * height + r) * width + c] = (float)s;
                }
        var y = new float[x.Length];
        for (int p = 0; p < planes; p++)
            for (int r = 0; r < height; r++)
                for (int c = 0; c < width; c++)
                {
                    double s = 0;
                    for (int t = -radius; t <= radius; t++) s += g[t + radius] * mid[(p * height + Reflect(r + t, height)) * width + c];
                    y[(p * height + r) * width + c] = (float)s;
                }
        return y;
    }

    /// <summary>The normalized 1-D taps.</summary>
    public static double[] Taps(double sigma, double truncate = 4.0)
    {
        if (!(sigma > 0 && sigma <= MaxSigma)) throw new ArgumentOutOfRangeException(nameof(sigma), $"gaussian filter: sigma must be in (0, {MaxSigma}], found {sigma}");
        int radius = (int)(truncate * sigma + 0.5);
        var g = new double[2 * radius + 1];
        double sum = 0;
        for (int t = -radius; t <= radius; t++) sum += g[t + radius] = Math.Exp(-0.5 * t * t / (sigma * sigma));
        for (int i = 0; i < g.Length; i++) g[i] /= sum;
        return g;
    }

    /// <summary>Half-sample symmetric reflection of index i into [0, n).</summary>
    private static int Reflect(int i, int n)
    {
        int period = 2 * n;
        i %= period;
        if (i < 0) i += period;
        return i < n ? i : period - 1 - i;
    }
}
