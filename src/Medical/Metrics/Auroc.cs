namespace DiffusionKernels.Medical.Metrics;

/// <summary>
/// Area under the ROC curve of pixel scores against binary labels, by the Mann–Whitney U statistic with average
/// ranks for ties: AUROC = (Σ ranks of positives − P(P+1)/2) / (P·N). 0.5 is chance; ties count half.
/// </summary>
public static class Auroc
{
    /// <summary>AUROC of <paramref name="scores"/> (higher = more anomalous) for 0/1 <paramref name="labels"/> with both classes present.</summary>
    public static double Compute(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        ImageMetricChecks.SameLength("auroc", scores, labels, nameof(scores), nameof(labels));
        ImageMetricChecks.Binary("auroc", labels, nameof(labels));
        for (int i = 0; i < scores.Length; i++)
            if (float.IsNaN(scores[i])) throw new ArgumentException($"auroc: score {i} is NaN", nameof(scores));
        int n = scores.Length;
        var order = new int[n];
        var keys = scores.ToArray();
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(keys, order);
        long positives = 0;
        double positiveRanks = 0;
        for (int start = 0; start < n;)
        {
            int end = start;
            while (end < n && keys[end] == keys[start]) end++;
            double rank = (start + 1 + end) / 2.0; // average of ranks start+1 … end
            for (int k = start; k < end; k++)
                if (labels[order[k]] != 0f) { positives++; positiveRanks += rank; }
            start = end;
        }
        long negatives = n - positives;
        if (positives == 0 || negatives == 0)
            throw new ArgumentException($"auroc: labels need both classes, found {positives} positive and {negatives} negative", nameof(labels));
        return (positiveRanks - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }
}
