namespace DiffusionKernels.Medical.Metrics;

/// <summary>Dice coefficient 2|A ∩ B| / (|A| + |B|) of two binary (0/1) masks; 1 when both are empty.</summary>
public static class Dice
{
    /// <summary>Dice of <paramref name="predicted"/> against <paramref name="truth"/>.</summary>
    public static double Compute(ReadOnlySpan<float> truth, ReadOnlySpan<float> predicted)
    {
        ImageMetricChecks.SameLength("dice", truth, predicted, nameof(truth), nameof(predicted));
        ImageMetricChecks.Binary("dice", truth, nameof(truth));
        ImageMetricChecks.Binary("dice", predicted, nameof(predicted));
        long both = 0, a = 0, b = 0;
        for (int i = 0; i < truth.Length; i++)
        {
            bool t = truth[i] != 0f, p = predicted[i] != 0f;
            if (t) a++;
            if (p) b++;
            if (t && p) both++;
        }
        return a + b == 0 ? 1.0 : 2.0 * both / (a + b);
    }

    /// <summary>1 where <paramref name="scores"/> ≥ <paramref name="threshold"/>, else 0.</summary>
    public static float[] Threshold(ReadOnlySpan<float> scores, float threshold)
    {
        var m = new float[scores.Length];
        for (int i = 0; i < m.Length; i++) m[i] = scores[i] >= threshold ? 1f : 0f;
        return m;
    }
}

/// <summary>
/// The best Dice any threshold gives (the "Dice_max" of anomaly-segmentation papers): over every distinct score t,
/// Dice of {score ≥ t} against the labels, computed in one pass over the sorted scores. An upper bound: a threshold
/// picked on the test data itself, so tables also report Dice at a threshold chosen on validation data.
/// </summary>
public static class BestDice
{
    /// <summary>The best Dice and the threshold that gives it.</summary>
    public static (double Dice, float Threshold) Compute(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        var (order, keys, positives) = AveragePrecision.Sorted("best dice", scores, labels);
        double best = -1;
        float threshold = float.PositiveInfinity;
        long tp = 0, predicted = 0;
        for (int start = keys.Length - 1; start >= 0;)
        {
            int end = start;
            while (end >= 0 && keys[end] == keys[start]) end--;
            for (int k = start; k > end; k--) { predicted++; if (labels[order[k]] != 0f) tp++; }
            double dice = 2.0 * tp / (positives + predicted);
            if (dice > best) { best = dice; threshold = keys[start]; }
            start = end;
        }
        return (best, threshold);
    }
}
