using System.Globalization;
using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Medical.Evaluation;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Samplers.Sampling;

namespace DiffusionKernels.Medical.Conditional;

/// <summary>Paired images [N, C, H, W] in [0, 1]: the source contrast A and the target contrast B.</summary>
public sealed record ImagePairs(float[] Source, float[] Target, int Count, int Channels, int Height, int Width)
{
    /// <summary>Checks the arrays hold <see cref="Count"/> pairs of C×H×W each.</summary>
    public ImagePairs Validate(string what)
    {
        long per = (long)Channels * Height * Width;
        if (Count < 1 || Channels < 1 || Height < 1 || Width < 1 || Source.Length != Count * per || Target.Length != Count * per)
            throw new ArgumentException($"{what}: {Source.Length} source and {Target.Length} target values are not {Count} pairs of {Channels}×{Height}×{Width}");
        return this;
    }
}

/// <summary>What <see cref="TranslationBenchmark.Run"/> measured: the table and the diffusion translation of the test images.</summary>
public sealed record TranslationReport(EvaluationTable Table, TranslationResult Diffusion, double[] Psnr, double[] Ssim);

/// <summary>
/// Contrast translation (A → B) by an image-conditioned model against pixelwise baselines fitted on paired
/// validation images: global histogram matching, and the conditional mean E[B | A] (the best any intensity lookup can
/// do). PSNR and SSIM (data range 1) per image against the true B, mean ± std; the ensemble mean and one sample.
/// </summary>
public static class TranslationBenchmark
{
    /// <summary>Runs the comparison on <paramref name="test"/>; the baselines are fitted on <paramref name="fit"/> (never the test pairs).</summary>
    public static TranslationReport Run(DiffusionModel model, ImagePairs test, ImagePairs fit, EnsembleOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        test.Validate("translation test set");
        fit.Validate("translation fitting set");
        var (n, c, h, w) = (test.Count, test.Channels, test.Height, test.Width);
        var result = DiffusionTranslation.Translate(model, test.Source, n, options);
        var matching = HistogramMatching.Fit(fit.Source, fit.Target);
        var lookup = IntensityLookup.Fit(fit.Source, fit.Target);
        var table = new EvaluationTable(SegmentationBenchmark.F($"Contrast translation (A → B), {n} test pairs, baselines fitted on {fit.Count} validation pairs"),
            "method", "PSNR (dB)", "SSIM", "NFE/image");
        var (psnr, ssim) = ImageQuality.PerImage(test.Target, result.Mean, n, c, h, w);
        Add(table, SegmentationBenchmark.F($"diffusion, mean of K = {options.Samples}"), (psnr, ssim), result.EvaluationsPerImage);
        Add(table, "diffusion, one sample", ImageQuality.PerImage(test.Target, result.First, n, c, h, w), result.EvaluationsPerImage / options.Samples);
        Add(table, "histogram matching (global)", ImageQuality.PerImage(test.Target, matching.Apply(test.Source), n, c, h, w), 0);
        Add(table, "intensity lookup (mean B per A bin)", ImageQuality.PerImage(test.Target, lookup.Apply(test.Source), n, c, h, w), 0);
        table.Notes.Add(SegmentationBenchmark.F($"Both baselines map each pixel's A intensity to a B intensity, fitted on the pooled pixels of {fit.Count} validation pairs; the lookup is the least-squares pixelwise map. Mean ensemble std: {result.Std.Average(v => (double)v):F4} (image units)."));
        return new TranslationReport(table, result, psnr, ssim);
    }

    private static void Add(EvaluationTable t, string method, (double[] Psnr, double[] Ssim) q, int nfe) =>
        t.Add(method, SegmentationBenchmark.Pm(q.Psnr, "F2"), SegmentationBenchmark.Pm(q.Ssim, "F3"), nfe.ToString(CultureInfo.InvariantCulture));
}
