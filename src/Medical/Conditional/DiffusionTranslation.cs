using DiffusionKernels.Samplers.Sampling;

namespace DiffusionKernels.Medical.Conditional;

/// <summary>A translation by an image-conditioned model: the ensemble mean (the estimate), its spread, and one sample.</summary>
/// <param name="Mean">Mean of the K sampled target images, [N, C, H, W] in [0, 1].</param>
/// <param name="Std">Per-pixel standard deviation of the K samples.</param>
/// <param name="First">The first sample of each ensemble (a draw from the model's conditional distribution).</param>
/// <param name="EvaluationsPerImage">Network evaluations per image (all K samples).</param>
public sealed record TranslationResult(float[] Mean, float[] Std, float[] First, int EvaluationsPerImage);

/// <summary>
/// Image-to-image translation (SR3/Palette style, e.g. T1 → T2): the model samples contrast B given contrast A; the mean
/// of K samples is the estimate with the least squared error, and their spread shows where the model is unsure.
/// </summary>
public static class DiffusionTranslation
{
    /// <summary>Translates <paramref name="count"/> images [N, C_cond, H, W] in [0, 1].</summary>
    public static TranslationResult Translate(DiffusionModel model, ReadOnlySpan<float> images01, int count, EnsembleOptions options, Action<RunProgress>? progress = null)
    {
        var e = ConditionalEnsemble.Run(model, images01, count, options, progress);
        return new TranslationResult(e.Mean, e.Std, e.First, e.EvaluationsPerImage);
    }
}
