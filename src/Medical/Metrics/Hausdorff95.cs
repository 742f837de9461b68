namespace DiffusionKernels.Medical.Metrics;

/// <summary>
/// The 95th-percentile Hausdorff distance (HD95, in pixels) between two binary masks of one H×W image, as MedPy's
/// <c>hd95</c> defines it: each mask's surface is the mask minus its erosion by the 4-connected cross (pixels outside
/// the image count as background, so a mask touching the border has its surface there); the distances from every
/// surface pixel of one mask to the nearest surface pixel of the other (both ways, by an exact Euclidean distance
/// transform) are pooled, and HD95 is their 95th percentile (linear interpolation, NumPy's default).
/// </summary>
/// <remarks>
/// Empty masks, which MedPy refuses: both empty gives 0 (nothing to find, nothing found); exactly one empty gives the
/// image diagonal √(H² + W²), the largest distance two pixels of the image can have, so a missed or invented lesion
/// costs the most a finite score can and means stay finite.
/// </remarks>
public static class Hausdorff95
{
    /// <summary>HD95 of <paramref name="predicted"/> against <paramref name="truth"/>, both [H·W] 0/1 masks.</summary>
    public static double Compute(ReadOnlySpan<float> truth, ReadOnlySpan<float> predicted, int height, int width)
    {
        ImageMetricChecks.SameLength("hd95", truth, predicted, nameof(truth), nameof(predicted));
        ImageMetricChecks.Binary("hd95", truth, nameof(truth));
        ImageMetricChecks.Binary("hd95", predicted, nameof(predicted));
        if (truth.Length != (long)height * width) throw new ArgumentException($"hd95: {truth.Length} pixels do not make a {height}×{width} image");
        var a = Surface(truth, height, width);
        var b = Surface(predicted, height, width);
        bool anyA = a.AsSpan().Contains(true), anyB = b.AsSpan().Contains(true);
        if (!anyA && !anyB) return 0;
        if (!anyA || !anyB) return Math.Sqrt((double)height * height + (double)width * width);
        var toA = DistanceTransform.Distances(a, height, width);
        var toB = DistanceTransform.Distances(b, height, width);
        var pooled = new List<double>();
        for (int i = 0; i < a.Length; i++)
        {
            if (b[i]) pooled.Add(toA[i]);
            if (a[i]) pooled.Add(toB[i]);
        }
        return Percentile(pooled, 95);
    }

    /// <summary>The mask's surface: its pixels with a 4-neighbour outside it (or outside the image).</summary>
    public static bool[] Surface(ReadOnlySpan<float> mask, int height, int width)
    {
        var s = new bool[mask.Length];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                if (mask[i] == 0f) continue;
                bool interior = y > 0 && y < height - 1 && x > 0 && x < width - 1
                    && mask[i - 1] != 0f && mask[i + 1] != 0f && mask[i - width] != 0f && mask[i + width] != 0f;
                s[i] = !interior;
            }
        return s;
    }

    /// <summary>The <paramref name="p"/>-th percentile with linear interpolation between order statistics (NumPy's default).</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) throw new ArgumentException("percentile of no values");
        var sorted = values.Order().ToArray();
        double pos = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}
