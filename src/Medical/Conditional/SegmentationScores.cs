using DiffusionKernels.Medical.Metrics;

namespace DiffusionKernels.Medical.Conditional;

/// <summary>Per-image Dice, IoU and HD95 (pixels) of predicted masks against the truth (empty masks as <see cref="Hausdorff95"/> documents).</summary>
public sealed record SegmentationScores(double[] Dice, double[] Iou, double[] Hd95)
{
    /// <summary>Scores <paramref name="count"/> predicted 0/1 masks [N, H, W] against the true ones.</summary>
    public static SegmentationScores Evaluate(ReadOnlySpan<float> truth, ReadOnlySpan<float> predicted, int count, int height, int width)
    {
        int plane = height * width;
        if (count < 1 || truth.Length != (long)count * plane || predicted.Length != truth.Length)
            throw new ArgumentException($"segmentation scores: {truth.Length} true and {predicted.Length} predicted values are not {count} masks of {height}×{width}");
        var dice = new double[count];
        var iou = new double[count];
        var hd = new double[count];
        for (int n = 0; n < count; n++)
        {
            var t = truth.Slice(n * plane, plane);
            var p = predicted.Slice(n * plane, plane);
            dice[n] = Metrics.Dice.Compute(t, p);
            iou[n] = Metrics.Iou.Compute(t, p);
            hd[n] = Hausdorff95.Compute(t, p, height, width);
        }
        return new SegmentationScores(dice, iou, hd);
    }
}
