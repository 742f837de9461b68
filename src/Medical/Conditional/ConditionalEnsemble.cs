using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Medical.Conditional;

/// <summary>How an image-conditioned model is sampled for segmentation or translation.</summary>
public sealed record EnsembleOptions
{
    /// <summary>Samples per condition image (the ensemble size K).</summary>
    public int Samples { get; init; } = 8;
    /// <summary>Solver steps.</summary>
    public int Steps { get; init; } = 20;
    /// <summary>The solver (default: DPM-Solver++(2M), deterministic, so the ensemble's spread comes from the starting noise alone).</summary>
    public Solver? Solver { get; init; }
    /// <summary>Noise seed; sample k of condition n is keyed by (seed, n·K + k).</summary>
    public ulong Seed { get; init; }
    /// <summary>Stops the run.</summary>
    public CancellationToken Cancellation { get; init; }
}

/// <summary>K samples per condition in image units: their per-pixel mean and standard deviation, and the first sample.</summary>
/// <param name="Mean">Mean over the K samples, [N, C, H, W] flattened, in image units [0, 1] (clamped).</param>
/// <param name="Std">Per-pixel standard deviation over the K samples (population, n), same shape.</param>
/// <param name="First">The first sample of each ensemble, same shape.</param>
/// <param name="Count">Condition images N.</param>
/// <param name="EvaluationsPerImage">Network evaluations per condition image: per sample, times K.</param>
public sealed record EnsembleResult(float[] Mean, float[] Std, float[] First, int Count, int EvaluationsPerImage);

/// <summary>
/// The shared step of <see cref="DiffusionSegmentation"/> and <see cref="DiffusionTranslation"/>: condition images in
/// [0, 1] go to the model's [−1, 1] (the units the conditional models are trained in), K samples are drawn per image,
/// and the samples come back to [0, 1], clamped, as their mean, spread and first member.
/// </summary>
public static class ConditionalEnsemble
{
    /// <summary>Samples <paramref name="count"/> condition images <paramref name="conditions01"/> [N, C_cond, H, W] flattened.</summary>
    /// <exception cref="ArgumentException">The model is not image-conditioned, or the options are out of range.</exception>
    public static EnsembleResult Run(DiffusionModel model, ReadOnlySpan<float> conditions01, int count, EnsembleOptions options, Action<RunProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (model.ConditionShape is null) throw new ArgumentException($"{model.Source}: the model is not image-conditioned");
        if (options.Samples < 1) throw new ArgumentException($"ensemble: samples per image must be ≥ 1, found {options.Samples}");
        if (options.Steps < 1) throw new ArgumentException($"ensemble: steps must be ≥ 1, found {options.Steps}");
        if (count < 1 || conditions01.Length != (long)count * model.ConditionLength)
            throw new ArgumentException($"ensemble: {conditions01.Length} values are not {count} condition images of {string.Join("×", model.ConditionShape)}");
        int k = options.Samples, per = model.SampleLength;
        var solver = options.Solver ?? SamplerRegistry.Get("dpmpp_2m");
        int before = model.Denoiser.Evaluations;
        var samples = ConditionedSampling.Draw(model, solver, model.Sigmas("karras", options.Steps), Measurements.ToModel(conditions01), k,
            new SamplerOptions { Seed = options.Seed, Cancellation = options.Cancellation }, progress);
        int batches = (count * k + model.Batch - 1) / model.Batch;
        // Network evaluations per sample (each batch runs the whole grid), times the K samples of an image.
        int nfePerImage = (model.Denoiser.Evaluations - before) / batches * k;
        var mean = new float[(long)count * per];
        var std = new float[mean.Length];
        var first = new float[mean.Length];
        for (int n = 0; n < count; n++)
            for (int i = 0; i < per; i++)
            {
                double sum = 0, sq = 0;
                for (int j = 0; j < k; j++)
                {
                    double v = Math.Clamp((samples[((long)n * k + j) * per + i] + 1) / 2.0, 0, 1);
                    sum += v;
                    sq += v * v;
                    if (j == 0) first[n * per + i] = (float)v;
                }
                double m = sum / k;
                mean[n * per + i] = (float)m;
                std[n * per + i] = (float)Math.Sqrt(Math.Max(0, sq / k - m * m));
            }
        return new EnsembleResult(mean, std, first, count, nfePerImage);
    }
}
