using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Samplers.Sampling;

namespace DiffusionKernels.Medical.Conditional;

/// <summary>A segmentation by an image-conditioned model: soft mask (ensemble mean), uncertainty (ensemble std), and the hard mask at a threshold.</summary>
/// <param name="SoftMask">Mean of the K sampled masks, [N, 1, H, W] in [0, 1].</param>
/// <param name="Uncertainty">Per-pixel standard deviation of the K sampled masks.</param>
/// <param name="Mask">1 where the soft mask reaches <paramref name="Threshold"/>, else 0.</param>
/// <param name="Threshold">The threshold the mask was cut at.</param>
/// <param name="EvaluationsPerImage">Network evaluations per image (all K samples).</param>
public sealed record SegmentationResult(float[] SoftMask, float[] Uncertainty, float[] Mask, double Threshold, int EvaluationsPerImage);

/// <summary>
/// Segmentation as image-conditioned diffusion (Wolleb et al.'s ensembles): the model samples a mask given the image; K
/// samples give the mean as a soft mask and the per-pixel standard deviation as uncertainty, and the soft mask is cut at
/// a threshold chosen on validation images (<see cref="ChooseThreshold"/>), never on the images scored.
/// </summary>
public static class DiffusionSegmentation
{
    /// <summary>The thresholds <see cref="ChooseThreshold"/> tries: 0.05, 0.075, …, 0.95.</summary>
    public static IReadOnlyList<double> Thresholds { get; } = Enumerable.Range(0, 37).Select(i => 0.05 + 0.025 * i).ToArray();

    /// <summary>Segments <paramref name="count"/> images [N, 1, H, W] in [0, 1] with <paramref name="model"/> (1 condition channel, 1 output channel).</summary>
    public static SegmentationResult Segment(DiffusionModel model, ReadOnlySpan<float> images01, int count, EnsembleOptions options, double threshold,
        Action<RunProgress>? progress = null)
    {
        if (!(threshold is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(threshold), $"the mask threshold must be in [0, 1], found {threshold}");
        var e = ConditionalEnsemble.Run(model, images01, count, options, progress);
        return new SegmentationResult(e.Mean, e.Std, Cut(e.Mean, threshold), threshold, e.EvaluationsPerImage);
    }

    /// <summary>1 where <paramref name="soft"/> ≥ <paramref name="threshold"/>, else 0.</summary>
    public static float[] Cut(ReadOnlySpan<float> soft, double threshold) => Dice.Threshold(soft, (float)threshold);

    /// <summary>The threshold of <see cref="Thresholds"/> with the best mean per-image Dice of the soft masks against the true masks (ties: the lower).</summary>
    public static (double Threshold, double Dice) ChooseThreshold(ReadOnlySpan<float> soft, ReadOnlySpan<float> truth, int count)
    {
        if (count < 1 || soft.Length != truth.Length || soft.Length % count != 0)
            throw new ArgumentException($"threshold choice: {soft.Length} soft and {truth.Length} true values are not {count} masks");
        int plane = soft.Length / count;
        var best = (Threshold: 0.5, Dice: double.NegativeInfinity);
        foreach (var t in Thresholds)
        {
            var cut = Cut(soft, t);
            double sum = 0;
            for (int n = 0; n < count; n++) sum += Dice.Compute(truth.Slice(n * plane, plane), cut.AsSpan(n * plane, plane));
            if (sum / count > best.Dice) best = (t, sum / count);
        }
        return best;
    }
}
