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
