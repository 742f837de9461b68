namespace DiffusionKernels.Medical.Metrics;

/// <summary>
/// Intersection over union (Jaccard index) |A ∩ B| / |A ∪ B| of two binary (0/1) masks; 1 when both are empty (nothing
/// to find, nothing found), as <see cref="Dice"/>.
/// </summary>
public static class Iou
{
    /// <summary>IoU of <paramref name="predicted"/> against <paramref name="truth"/>.</summary>
    public static double Compute(ReadOnlySpan<float> truth, ReadOnlySpan<float> predicted)
    {
        ImageMetricChecks.SameLength("iou", truth, predicted, nameof(truth), nameof(predicted));
        ImageMetricChecks.Binary("iou", truth, nameof(truth));
        ImageMetricChecks.Binary("iou", predicted, nameof(predicted));
        long both = 0, either = 0;
        for (int i = 0; i < truth.Length; i++)
        {
            bool t = truth[i] != 0f, p = predicted[i] != 0f;
            if (t && p) both++;
            if (t || p) either++;
        }
        return either == 0 ? 1.0 : (double)both / either;
    }
}
