namespace DiffusionKernels.Medical.Metrics;

/// <summary>Per-pixel summary of K posterior samples: mean and standard deviation (K − 1 in the denominator).</summary>
public static class PosteriorStatistics
{
    /// <summary>Mean and std over <paramref name="samples"/> (K arrays of one length; std is 0 for K = 1).</summary>
    public static (float[] Mean, float[] Std) Compute(IReadOnlyList<float[]> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0) throw new ArgumentException("posterior statistics: no samples");
        int n = samples[0].Length, k = samples.Count;
        if (samples.Any(s => s.Length != n)) throw new ArgumentException("posterior statistics: the samples differ in length");
        var mean = new float[n];
        var std = new float[n];
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int j = 0; j < k; j++) s += samples[j][i];
            double m = s / k, v = 0;
            for (int j = 0; j < k; j++) v += (samples[j][i] - m) * (samples[j][i] - m);
            mean[i] = (float)m;
            std[i] = k > 1 ? (float)Math.Sqrt(v / (k - 1)) : 0f;
        }
        return (mean, std);
    }
}

/// <summary>
/// Whether an uncertainty map is calibrated against the truth: the Pearson correlation of the per-pixel error
/// |estimate − truth| with the predicted std, and the coverage of the truth by estimate ± 2σ (0.954 for calibrated
/// Gaussian errors).
/// </summary>
public static class Calibration
{
    /// <summary>Error–uncertainty correlation and ±2σ coverage over all pixels.</summary>
    public static (double Correlation, double Coverage) Compute(ReadOnlySpan<float> truth, ReadOnlySpan<float> estimate, ReadOnlySpan<float> std)
    {
        ImageMetricChecks.SameLength("calibration", truth, estimate, nameof(truth), nameof(estimate));
        ImageMetricChecks.SameLength("calibration", truth, std, nameof(truth), nameof(std));
        int n = truth.Length;
        double se = 0, ss = 0, see = 0, sss = 0, ses = 0;
        long covered = 0;
        for (int i = 0; i < n; i++)
        {
            if (!(std[i] >= 0)) throw new ArgumentException($"calibration: std {i} is {std[i]}, not ≥ 0", nameof(std));
            double e = Math.Abs((double)estimate[i] - truth[i]), s = std[i];
            se += e; ss += s; see += e * e; sss += s * s; ses += e * s;
            if (e <= 2 * s) covered++;
        }
        double cov = ses / n - se / n * (ss / n), ve = see / n - se / n * (se / n), vs = sss / n - ss / n * (ss / n);
        double corr = ve > 0 && vs > 0 ? cov / Math.Sqrt(ve * vs) : 0;
        return (corr, covered / (double)n);
    }
}
