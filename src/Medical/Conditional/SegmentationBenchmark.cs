using System.Globalization;
using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Medical.Evaluation;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Samplers.Sampling;

namespace DiffusionKernels.Medical.Conditional;

/// <summary>Images and true masks [N, 1, H, W] in [0, 1] (0/1 masks).</summary>
public sealed record LabelledImages(float[] Images, float[] Masks, int Count, int Height, int Width)
{
    /// <summary>Checks the arrays hold <see cref="Count"/> images of H×W each.</summary>
    public LabelledImages Validate(string what)
    {
        long plane = (long)Height * Width;
        if (Count < 1 || Height < 1 || Width < 1 || Images.Length != Count * plane || Masks.Length != Count * plane)
            throw new ArgumentException($"{what}: {Images.Length} image and {Masks.Length} mask values are not {Count} of {Height}×{Width}");
        return this;
    }
}

/// <summary>What <see cref="SegmentationBenchmark.Run"/> measured: the table and the diffusion segmentation of the test images.</summary>
public sealed record SegmentationReport(EvaluationTable Table, SegmentationResult Diffusion, SegmentationScores Scores);

/// <summary>
/// Lesion segmentation by an image-conditioned model against simple baselines, on test images with true masks: the
/// ensemble mean cut at a threshold chosen on validation images, one sample cut at 0.5, Otsu's threshold, and region
/// growing from the lesion contrast with its levels and margin tuned on the same validation images. Dice, IoU and HD95
/// per image (mean ± std), network evaluations per image, and how well the ensemble's spread flags the wrong pixels.
/// </summary>
public static class SegmentationBenchmark
{
    /// <summary>Runs the comparison; <paramref name="threshold"/> fixes the ensemble's threshold instead of choosing it on <paramref name="validation"/>.</summary>
    public static SegmentationReport Run(DiffusionModel model, LabelledImages test, LabelledImages validation, EnsembleOptions options, double? threshold = null,
        Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        test.Validate("segmentation test set");
        validation.Validate("segmentation validation set");
        log ??= _ => { };
        var (n, h, w) = (test.Count, test.Height, test.Width);
        double chosen;
        if (threshold is { } fixedThreshold) chosen = fixedThreshold;
        else
        {
            var val = ConditionalEnsemble.Run(model, validation.Images, validation.Count, options);
            double valDice;
            (chosen, valDice) = DiffusionSegmentation.ChooseThreshold(val.Mean, validation.Masks, validation.Count);
            log(F($"  ensemble threshold {chosen:F3} (validation Dice {valDice:F3} on {validation.Count} images)"));
        }
        var e = ConditionalEnsemble.Run(model, test.Images, n, options);
        var result = new SegmentationResult(e.Mean, e.Std, DiffusionSegmentation.Cut(e.Mean, chosen), chosen, e.EvaluationsPerImage);
        var (settings, growDice) = RegionGrowing.Tune(validation.Images, validation.Masks, validation.Count, h, w);
        log(F($"  region growing: grow above {settings.Low:F4}, seeds above {settings.High:F4}, {settings.Margin} px inside the head (validation Dice {growDice:F3})"));

        var table = new EvaluationTable(F($"Lesion segmentation (image → mask), {n} test images, thresholds and baseline settings from {validation.Count} validation images"),
            "method", "Dice", "IoU", "HD95 (px)", "NFE/image");
        var scores = SegmentationScores.Evaluate(test.Masks, result.Mask, n, h, w);
        Add(table, F($"diffusion, mean of K = {options.Samples} ≥ {chosen:F3}"), scores, result.EvaluationsPerImage);
        Add(table, "diffusion, one sample ≥ 0.5", SegmentationScores.Evaluate(test.Masks, DiffusionSegmentation.Cut(e.First, 0.5), n, h, w), e.EvaluationsPerImage / options.Samples);
        Add(table, "Otsu threshold", SegmentationScores.Evaluate(test.Masks, Otsu.Segment(test.Images, n), n, h, w), 0);
        Add(table, "region growing (tuned on validation)", SegmentationScores.Evaluate(test.Masks, RegionGrowing.Segment(test.Images, n, h, w, settings), n, h, w), 0);
        var (bestDice, _) = BestDice.Compute(result.SoftMask, test.Masks);
        var errors = new float[result.Mask.Length];
        for (int i = 0; i < errors.Length; i++) errors[i] = result.Mask[i] != test.Masks[i] ? 1 : 0;
        table.Notes.Add(F($"Ensemble threshold {chosen:F3}{(threshold is null ? " (best mean Dice on the validation images)" : " (given)")}; region growing grows above {settings.Low:F4} from seeds above {settings.High:F4}, at least {settings.Margin} px inside the head (best validation Dice {growDice:F3})."));
        table.Notes.Add(F($"Pooled Dice of the soft mask at the best threshold on the test images themselves (an upper bound, not a result): {bestDice:F3}.") +
            (errors.Contains(1f) && errors.Contains(0f) ? F($" Uncertainty: the ensemble std ranks wrong pixels above right ones with AUROC {Auroc.Compute(result.Uncertainty, errors):F3}.") : ""));
        table.Notes.Add("HD95: MedPy's definition (surfaces by 4-connected erosion, pooled distances, 95th percentile); a mask that is empty when the other is not scores the image diagonal.");
        return new SegmentationReport(table, result, scores);
    }

    private static void Add(EvaluationTable t, string method, SegmentationScores s, int nfe) =>
        t.Add(method, Pm(s.Dice, "F3"), Pm(s.Iou, "F3"), Pm(s.Hd95, "F2"), nfe.ToString(CultureInfo.InvariantCulture));

    internal static string Pm(IReadOnlyList<double> v, string format) =>
        $"{v.Average().ToString(format, CultureInfo.InvariantCulture)} ± {ImageQuality.Std(v).ToString(format, CultureInfo.InvariantCulture)}";

    internal static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
