using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// diffusers' convert_model_output as forms in (sample, output) for x = α·x₀ + σ_t·ε: x̂₀ and ε̂ under prediction_type
/// epsilon, v_prediction or sample. The coefficients are the expressions every scheduler wrote out itself, so results are
/// unchanged bit for bit.
/// </summary>
internal static class PredictionForms
{
    /// <summary>x̂₀ of <paramref name="output"/> at <paramref name="sample"/>.</summary>
    public static LinearForm Data(string predictionType, double alpha, double sigmaT, Tensor sample, Tensor output) => predictionType switch
    {
        "epsilon" => new LinearForm().Add(1 / alpha, sample).Add(-sigmaT / alpha, output),
        "v_prediction" => new LinearForm().Add(alpha, sample).Add(-sigmaT, output),
        _ => new LinearForm().Add(1, output),
    };

    /// <summary>ε̂ of <paramref name="output"/> at <paramref name="sample"/>.</summary>
    public static LinearForm Noise(string predictionType, double alpha, double sigmaT, Tensor sample, Tensor output) => predictionType switch
    {
        "epsilon" => new LinearForm().Add(1, output),
        "v_prediction" => new LinearForm().Add(alpha, output).Add(sigmaT, sample),
        _ => new LinearForm().Add(1 / sigmaT, sample).Add(-alpha / sigmaT, output),
    };

    /// <summary>
    /// Writes x̂₀ to <paramref name="into"/>, dynamically thresholded when the config asks, and returns the form this step
    /// combines: the unrounded form itself when nothing was thresholded, else the written tensor.
    /// </summary>
    public static LinearForm WriteData(LinearForm x0, Tensor into, SchedulerConfig config, RunContext ctx)
    {
        x0.WriteTo(ctx.Backend, into);
        if (!config.Thresholding) return x0;
        ctx.Threshold(into, config.DynamicThresholdingRatio, config.SampleMaxValue);
        return new LinearForm().Add(1, into);
    }
}
