using DiffusionKernels.Medical.Metrics;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

public class AnomalyMetricsTests
{
    [Test]
    public void Average_precision_by_hand()
    {
        // scikit-learn's docstring example: y = [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8] → AP = 0.8333.
        Assert.That(AveragePrecision.Compute([0.1f, 0.4f, 0.35f, 0.8f], [0, 0, 1, 1]), Is.EqualTo(5.0 / 6).Within(1e-12));
        Assert.That(AveragePrecision.Compute([0.9f, 0.8f, 0.1f], [1, 1, 0]), Is.EqualTo(1.0));
        // Ties share one threshold: all tied → AP = positive fraction.
        Assert.That(AveragePrecision.Compute([0.5f, 0.5f, 0.5f, 0.5f], [1, 0, 0, 0]), Is.EqualTo(0.25).Within(1e-12));
        Assert.Throws<ArgumentException>(() => AveragePrecision.Compute([0.5f], [0]));
    }

    [Test]
    public void Rare_positives_keep_auroc_high_but_ap_low()
    {
        // 1 positive among 1000: ranked 11th of 1000 → AUROC ≈ 0.99 but AP = 1/11.
        var scores = Enumerable.Range(0, 1000).Select(i => (float)(1000 - i)).ToArray();
        var labels = new float[1000];
        labels[10] = 1;
        Assert.That(Auroc.Compute(scores, labels), Is.GreaterThan(0.98));
        Assert.That(AveragePrecision.Compute(scores, labels), Is.EqualTo(1.0 / 11).Within(1e-12));
    }

    [Test]
    public void Best_dice_scans_every_threshold()
    {
        float[] scores = [0.9f, 0.8f, 0.7f, 0.2f, 0.1f], labels = [1, 0, 1, 0, 0];
        // ≥0.9: 2·1/(2+1) = 0.667; ≥0.8: 2·1/(2+2) = 0.5; ≥0.7: 2·2/(2+3) = 0.8; lower: worse.
        var (dice, threshold) = BestDice.Compute(scores, labels);
        Assert.That(dice, Is.EqualTo(0.8).Within(1e-12));
        Assert.That(threshold, Is.EqualTo(0.7f));
        Assert.That(Dice.Compute(labels, Dice.Threshold(scores, threshold)), Is.EqualTo(dice).Within(1e-12));
    }

    [Test]
    public void Evaluate_gives_image_auroc_only_with_both_kinds_of_image()
    {
        // Two 2-pixel images: the first has a lesion at pixel 0 with the highest score.
        float[] maps = [0.9f, 0.1f, 0.3f, 0.2f], truth = [1, 0, 0, 0];
        var s = AnomalyMetrics.Evaluate(maps, truth, 2, 2, threshold: 0.5f);
        Assert.That(s.PixelAuroc, Is.EqualTo(1.0));
        Assert.That(s.AveragePrecision, Is.EqualTo(1.0));
        Assert.That(s.Dice, Is.EqualTo(1.0));
        Assert.That(s.ImageAuroc, Is.EqualTo(1.0));
        Assert.That(AnomalyMetrics.Evaluate([0.9f, 0.1f], [1, 0], 1, 2).ImageAuroc, Is.NaN);
        Assert.That(AnomalyMetrics.ImageScores(maps, 2, 2), Is.EqualTo(new[] { 0.9f, 0.3f }));
    }

    [Test]
    public void Calibration_and_posterior_statistics_by_hand()
    {
        var (mean, std) = PosteriorStatistics.Compute([[1f, 2f], [3f, 2f]]);
        Assert.That(mean, Is.EqualTo(new[] { 2f, 2f }));
        Assert.That(std[0], Is.EqualTo(MathF.Sqrt(2)).Within(1e-6)); // (1, 3): sample std √2
        Assert.That(std[1], Is.Zero);
        // Errors 0.1, 0.2, 0.3, 0.4 against σ 0.1, 0.2, 0.3, 0.1: two within 2σ… exactly: 0.1 ≤ 0.2, 0.2 ≤ 0.4, 0.3 ≤ 0.6, 0.4 > 0.2.
        var (corr, coverage) = Calibration.Compute([0, 0, 0, 0], [0.1f, 0.2f, 0.3f, 0.4f], [0.1f, 0.2f, 0.3f, 0.1f]);
        Assert.That(coverage, Is.EqualTo(0.75));
        // Pearson of (1, 2, 3, 4) and (1, 2, 3, 1): cov = 4.5 − 2.5·1.75 = 0.125, variances 1.25 and 0.6875.
        Assert.That(corr, Is.EqualTo(0.125 / Math.Sqrt(1.25 * 0.6875)).Within(1e-5));
    }

    [Test]
    public void Lesion_contrast_by_hand()
    {
        // 1 image 5×5: lesion pixel at the centre of value 1 on a background of 0.5; ring of 1 pixel = the 8 neighbours.
        var truth = Enumerable.Repeat(0.5f, 25).ToArray();
        truth[12] = 1;
        var mask = new float[25];
        mask[12] = 1;
        Assert.That(LesionContrast.Contrasts(truth, mask, 1, 5, 5, ring: 1)[0], Is.EqualTo(0.5).Within(1e-7));
        var faded = (float[])truth.Clone();
        faded[12] = 0.75f;
        Assert.That(LesionContrast.Retention(truth, faded, mask, 1, 5, 5, ring: 1), Is.EqualTo(0.5).Within(1e-6));
        Assert.That(LesionContrast.Contrasts(truth, new float[25], 1, 5, 5)[0], Is.NaN);
    }
}
