namespace DiffusionKernels.Medical.Metrics;

/// <summary>Argument checks shared by the metrics.</summary>
internal static class ImageMetricChecks
{
    public static void SameLength(string metric, ReadOnlySpan<float> reference, ReadOnlySpan<float> test, string referenceName = "reference", string testName = "test")
    {
        if (reference.Length == 0) throw new ArgumentException($"{metric}: {referenceName} is empty", referenceName);
        if (reference.Length != test.Length)
            throw new ArgumentException($"{metric}: {referenceName} has {reference.Length} elements but {testName} has {test.Length}", testName);
    }

    public static double Range(string metric, ReadOnlySpan<float> reference, double? dataRange)
    {
        double range;
        if (dataRange is { } r) range = r;
        else
        {
            float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
            foreach (var v in reference) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
            range = (double)hi - lo;
        }
        if (!(range > 0) || double.IsInfinity(range))
            throw new ArgumentException($"{metric}: data range must be positive and finite, found {range}{(dataRange is null ? " (max − min of a constant reference; pass dataRange)" : "")}", nameof(dataRange));
        return range;
    }

    public static void Binary(string metric, ReadOnlySpan<float> mask, string name)
    {
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] != 0f && mask[i] != 1f)
                throw new ArgumentException($"{metric}: {name} must hold only 0 and 1, found {mask[i]} at element {i}", name);
    }
}
