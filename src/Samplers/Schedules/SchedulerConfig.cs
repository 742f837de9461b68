using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Samplers.Schedules;

/// <summary>
/// The training-schedule keys of a diffusers <c>scheduler_config.json</c> that sampling needs (other diffusers keys
/// are accepted and ignored: they configure diffusers' own solvers, which command-line options replace here).
/// </summary>
public sealed record SchedulerConfig
{
    public int NumTrainTimesteps { get; init; } = 1000;
    public string BetaSchedule { get; init; } = "linear";
    public double BetaStart { get; init; } = 0.0001;
    public double BetaEnd { get; init; } = 0.02;
    /// <summary>"epsilon", "v_prediction" or "sample".</summary>
    public string PredictionType { get; init; } = "epsilon";
    /// <summary>"leading", "trailing" or "linspace" (for the discrete grid).</summary>
    public string TimestepSpacing { get; init; } = "leading";
    public int StepsOffset { get; init; }
    /// <summary>Clamp x̂₀ to [−clip_sample_range, clip_sample_range] (diffusers' DDPM/DDIM default for pixel models).</summary>
    public bool ClipSample { get; init; }
    public double ClipSampleRange { get; init; } = 1.0;
    /// <summary>Rescale β to zero terminal SNR (Lin et al. 2024); the infinite last σ is read at ᾱ = 2⁻²⁴.</summary>
    public bool RescaleBetasZeroSnr { get; init; }
    /// <summary>"zero" or "sigma_min": what the discrete grids end on.</summary>
    public string FinalSigmasType { get; init; } = "zero";
    /// <summary>Dynamic thresholding of x̂₀ (Saharia et al. 2022) at this quantile of |x̂₀|, with s clamped to [1, sample_max_value].</summary>
    public bool Thresholding { get; init; }
    public double DynamicThresholdingRatio { get; init; } = 0.995;
    public double SampleMaxValue { get; init; } = 1.0;

    /// <summary>Reads and validates a <c>scheduler_config.json</c>.</summary>
    public static SchedulerConfig Load(string path) => From(ConfigReader.Load(path, "scheduler config"));

    /// <summary>Parses scheduler-config JSON; <paramref name="source"/> names the file in errors.</summary>
    public static SchedulerConfig Parse(string json, string source) => From(ConfigReader.Parse(json, source));

    /// <summary>The largest num_train_timesteps accepted: the schedule tables are built on the host, and real models use 1,000–4,000.</summary>
    public const int MaxTrainTimesteps = 100_000;

    /// <summary>Reads the keys from a config object (a scheduler config, or a GMM spec that embeds them).</summary>
    public static SchedulerConfig From(ConfigReader p)
    {
        var c = new SchedulerConfig();
        int timesteps = p.Int("num_train_timesteps", c.NumTrainTimesteps, 2, MaxTrainTimesteps);
        c = c with
        {
            NumTrainTimesteps = timesteps,
            BetaSchedule = p.String("beta_schedule", c.BetaSchedule)!,
            BetaStart = p.Double("beta_start", c.BetaStart, 0, 1),
            BetaEnd = p.Double("beta_end", c.BetaEnd, 0, 1),
            PredictionType = p.String("prediction_type", c.PredictionType)!,
            TimestepSpacing = p.String("timestep_spacing", c.TimestepSpacing)!,
            StepsOffset = p.Int("steps_offset", c.StepsOffset, 0, timesteps - 1),
            ClipSample = p.Bool("clip_sample", c.ClipSample),
            ClipSampleRange = p.Double("clip_sample_range", c.ClipSampleRange, double.Epsilon, double.MaxValue),
            RescaleBetasZeroSnr = p.Bool("rescale_betas_zero_snr", c.RescaleBetasZeroSnr),
            FinalSigmasType = p.String("final_sigmas_type", c.FinalSigmasType)!,
            Thresholding = p.Bool("thresholding", c.Thresholding),
            DynamicThresholdingRatio = p.Double("dynamic_thresholding_ratio", c.DynamicThresholdingRatio, 0, 1),
            SampleMaxValue = p.Double("sample_max_value", c.SampleMaxValue, 0, double.MaxValue),
        };
        if (p.Doubles("trained_betas") is not null)
            throw new ModelFormatException($"{p.Source}: trained_betas is not supported yet");
        try
        {
            c.Validate(p.Source);
        }
        catch (ArgumentException e)
        {
            // A bad value read from a file is a malformed file, not a bad argument.
            throw new ModelFormatException(e.Message, e);
        }
        return c;
    }

    public void Validate(string source)
    {
        if (NumTrainTimesteps < 2) throw new ArgumentException($"{source}: num_train_timesteps must be ≥ 2, found {NumTrainTimesteps}");
        if (!DiscreteSchedule.BetaSchedules.Contains(BetaSchedule))
            throw new ArgumentException($"{source}: beta_schedule '{BetaSchedule}' is not supported ({string.Join(", ", DiscreteSchedule.BetaSchedules)})");
        if (FinalSigmasType is not ("zero" or "sigma_min"))
            throw new ArgumentException($"{source}: final_sigmas_type '{FinalSigmasType}' is not supported (zero, sigma_min)");
        if (Thresholding && !(DynamicThresholdingRatio > 0 && DynamicThresholdingRatio <= 1 && SampleMaxValue >= 1))
            throw new ArgumentException($"{source}: thresholding needs 0 < dynamic_thresholding_ratio ≤ 1 and sample_max_value ≥ 1, found {DynamicThresholdingRatio} and {SampleMaxValue}");
        if (TimestepSpacing is not ("leading" or "trailing" or "linspace"))
            throw new ArgumentException($"{source}: timestep_spacing '{TimestepSpacing}' is not supported (leading, trailing, linspace)");
        if (PredictionType is not ("epsilon" or "v_prediction" or "sample"))
            throw new ArgumentException($"{source}: prediction_type '{PredictionType}' is not supported (epsilon, v_prediction, sample)");
    }

    public DiscreteSchedule CreateSchedule() => DiscreteSchedule.Create(BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, RescaleBetasZeroSnr);

    /// <summary>
    /// The denoiser with this config's x̂₀ post-processing: dynamic thresholding when <c>thresholding</c> is set (it
    /// takes precedence over clip_sample, as in diffusers), else clipping when <paramref name="clipSample"/> (or
    /// <c>clip_sample</c>) is set.
    /// </summary>
    public Denoisers.IDenoiser Wrap(Denoisers.IDenoiser denoiser, bool? clipSample = null) =>
        Thresholding ? new Denoisers.DynamicThresholdDenoiser(denoiser, DynamicThresholdingRatio, SampleMaxValue)
        : clipSample ?? ClipSample ? new Denoisers.ClippedDenoiser(denoiser, (float)ClipSampleRange)
        : denoiser;

    public Denoisers.Prediction Prediction => PredictionType switch
    {
        "v_prediction" => Denoisers.Prediction.VPrediction,
        "sample" => Denoisers.Prediction.Sample,
        _ => Denoisers.Prediction.Epsilon,
    };
}
