namespace DiffusionKernels.Medical.Metrics;

/// <summary>
/// Average precision, the area under the precision–recall curve as scikit-learn's <c>average_precision_score</c>
/// computes it: AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the thresholds at each distinct score, highest first (no interpolation).
/// Unlike AUROC it does not saturate when positives are rare: a random score gets AP ≈ the positive fraction.
/// </summary>
public static class AveragePrecision
{
    /// <summary>AP of <paramref name="scores"/> (higher = more positive) for 0/1 <paramref name="labels"/> with at least one positive.</summary>
    public static double Compute(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        var (order, keys, positives) = Sorted("average precision", scores, labels);
        double ap = 0, previousRecall = 0;
        long tp = 0, seen = 0;
        for (int start = keys.Length - 1; start >= 0;)
        {
            int end = start;
            while (end >= 0 && keys[end] == keys[start]) end--;
            for (int k = start; k > end; k--) { seen++; if (labels[order[k]] != 0f) tp++; }
            double recall = (double)tp / positives, precision = (double)tp / seen;
            ap += (recall - previousRecall) * precision;
            previousRecall = recall;
            start = end;
        }
        return ap;
    }

    /// <summary>Scores sorted ascending with their original order, after the shared checks.</summary>
    internal static (int[] Order, float[] Keys, long Positives) Sorted(string metric, ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        ImageMetricChecks.SameLength(metric, scores, labels, nameof(scores), nameof(labels));
        ImageMetricChecks.Binary(metric, labels, nameof(labels));
        long positives = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (float.IsNaN(scores[i])) throw new ArgumentException($"{metric}: score {i} is NaN", nameof(scores));
            if (labels[i] != 0f) positives++;
        }
        if (positives == 0) throw new ArgumentException($"{metric}: labels hold no positive", nameof(labels));
        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var keys = scores.ToArray();
        Array.Sort(keys, order);
        return (order, keys, positives);
    }
}
