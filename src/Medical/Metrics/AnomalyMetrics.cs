namespace DiffusionKernels.Medical.Metrics;

/// <summary>Scores of anomaly maps against ground-truth masks, pooled over the images.</summary>
/// <param name="PixelAuroc">Pooled pixel AUROC (saturates when lesions are rare: kept for comparison with the literature).</param>
/// <param name="AveragePrecision">Pooled pixel average precision (area under precision–recall).</param>
/// <param name="BestDice">The best pooled Dice over all thresholds (an upper bound: picked on these very maps).</param>
/// <param name="BestThreshold">The threshold of <paramref name="BestDice"/>.</param>
/// <param name="Dice">Pooled Dice at the given threshold (e.g. one chosen on validation maps), NaN when none was given.</param>
/// <param name="ImageAuroc">AUROC of the image score (the map's maximum) for "has a lesion", NaN unless images of both kinds are present.</param>
public sealed record AnomalyScores(double PixelAuroc, double AveragePrecision, double BestDice, float BestThreshold, double Dice, double ImageAuroc);

/// <summary>
/// Anomaly detection metrics that do not saturate: pixel AUROC beside average precision, the best-threshold Dice and
/// Dice at a threshold fixed beforehand, and image-level AUROC of the map maximum.
/// </summary>
public static class AnomalyMetrics
{
    /// <summary>The image score: the maximum of each [H, W] map.</summary>
    public static float[] ImageScores(ReadOnlySpan<float> maps, int count, int plane)
    {
        if (count < 1 || plane < 1 || maps.Length != (long)count * plane) throw new ArgumentException($"anomaly metrics: {maps.Length} map values are not {count} maps of {plane}");
        var s = new float[count];
        for (int k = 0; k < count; k++)
        {
            float m = float.NegativeInfinity;
            foreach (var v in maps.Slice(k * plane, plane)) m = Math.Max(m, v);
            s[k] = m;
        }
        return s;
    }

    /// <summary>
    /// Scores <paramref name="maps"/> [N, H·W] against <paramref name="truth"/> (0/1, same shape); pixel metrics pool the
    /// images whose masks are non-empty or not alike. <paramref name="threshold"/> (optional) gives <see cref="AnomalyScores.Dice"/>.
    /// </summary>
    public static AnomalyScores Evaluate(ReadOnlySpan<float> maps, ReadOnlySpan<float> truth, int count, int plane, float? threshold = null)
    {
        ImageMetricChecks.SameLength("anomaly metrics", maps, truth, nameof(maps), nameof(truth));
        double auroc = Auroc.Compute(maps, truth);
        double ap = Metrics.AveragePrecision.Compute(maps, truth);
        var (best, at) = BestDice.Compute(maps, truth);
        double dice = threshold is { } t ? Metrics.Dice.Compute(truth, Metrics.Dice.Threshold(maps, t)) : double.NaN;
        var labels = new float[count];
        for (int k = 0; k < count; k++)
            foreach (var v in truth.Slice(k * plane, plane))
                if (v != 0f) { labels[k] = 1f; break; }
        double imageAuroc = labels.Contains(0f) && labels.Contains(1f) ? Auroc.Compute(ImageScores(maps, count, plane), labels) : double.NaN;
        return new AnomalyScores(auroc, ap, best, at, dice, imageAuroc);
    }
}
