using System.Text.Json;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers.Diffusers;

namespace DiffusionKernels.Samplers.Schedules;

/// <summary>
/// A diffusers <c>scheduler_config.json</c>: the training schedule every sampler needs, and the keys of diffusers'
/// own scheduler classes (<see cref="DiffusersScheduler"/> reproduces the class named by <c>_class_name</c>). When the
/// class is one diffusers has, absent keys take that class's defaults, as diffusers' <c>from_config</c> does; a key no
/// supported class reads is an error, a key of another class is ignored (as diffusers ignores it) and listed in
/// <see cref="IgnoredKeys"/>. Without a class, keys default to dk's values and other keys are ignored.
/// </summary>
public sealed record SchedulerConfig
{
    /// <summary>diffusers' scheduler class (<c>_class_name</c>), or null.</summary>
    public string? ClassName { get; init; }
    /// <summary>The file the config came from, for messages (null when built in code).</summary>
    public string? Source { get; init; }

    /// <c>num_train_timesteps</c>.
    public int NumTrainTimesteps { get; init; } = 1000;
    /// <summary>linear, scaled_linear, squaredcos_cap_v2, sigmoid, laplace (DDPM) or exp (Heun).</summary>
    public string BetaSchedule { get; init; } = "linear";
    /// <c>beta_start</c>: β at the first training timestep.
    public double BetaStart { get; init; } = 0.0001;
    /// <c>beta_end</c>: β at the last training timestep.
    public double BetaEnd { get; init; } = 0.02;
    /// <summary>Explicit β_t (length num_train_timesteps), used instead of beta_schedule when set.</summary>
    public IReadOnlyList<double>? TrainedBetas { get; init; }
    /// <summary>"epsilon", "v_prediction" or "sample" ("original_sample" is EulerDiscreteScheduler's alias of sample).</summary>
    public string PredictionType { get; init; } = "epsilon";
    /// <summary>"leading", "trailing" or "linspace" (for the discrete grid).</summary>
    public string TimestepSpacing { get; init; } = "leading";
    /// <c>steps_offset</c>, added to the leading-spaced timesteps.
    public int StepsOffset { get; init; }
    /// <summary>Clamp x̂₀ to [−clip_sample_range, clip_sample_range] (diffusers' DDPM/DDIM default for pixel models).</summary>
    public bool ClipSample { get; init; }
    /// <c>clip_sample_range</c>.
    public double ClipSampleRange { get; init; } = 1.0;
    /// <summary>Rescale β to zero terminal SNR (Lin et al. 2024); the infinite last σ is read at ᾱ = 2⁻²⁴.</summary>
    public bool RescaleBetasZeroSnr { get; init; }
    /// <summary>"zero" or "sigma_min": what the discrete grids end on.</summary>
    public string FinalSigmasType { get; init; } = "zero";
    /// <summary>Dynamic thresholding of x̂₀ (Saharia et al. 2022) at this quantile of |x̂₀|, with s clamped to [1, sample_max_value].</summary>
    public bool Thresholding { get; init; }
    /// <c>dynamic_thresholding_ratio</c>.
    public double DynamicThresholdingRatio { get; init; } = 0.995;
    /// <c>sample_max_value</c>.
    public double SampleMaxValue { get; init; } = 1.0;

    /// <summary>DDIM/PNDM: ᾱ after the last step is 1 (else ᾱ₀).</summary>
    public bool SetAlphaToOne { get; init; } = true;
    /// <summary>DDPM: fixed_small, fixed_small_log, fixed_large, fixed_large_log, learned, learned_range; DPM-Solver: null, learned, learned_range.</summary>
    public string? VarianceType { get; init; }
    /// <summary>PNDM: PLMS only, without the Runge–Kutta warm-up.</summary>
    public bool SkipPrkSteps { get; init; }
    /// <summary>EulerDiscreteScheduler: "linear" (σ interpolated at the timesteps) or "log_linear".</summary>
    public string InterpolationType { get; init; } = "linear";
    /// <c>use_karras_sigmas</c>: Karras et al.'s ρ = 7 grid.
    public bool UseKarrasSigmas { get; init; }
    /// <c>use_exponential_sigmas</c>: log-uniform σ.
    public bool UseExponentialSigmas { get; init; }
    /// <c>use_beta_sigmas</c>: σ at Beta(0.6, 0.6) quantiles.
    public bool UseBetaSigmas { get; init; }
    /// <summary>DPMSolverMultistepScheduler: λ-uniform grid (Lu et al. 2022).</summary>
    public bool UseLuLambdas { get; init; }
    /// <summary>Euler/UniPC: the σ range of the Karras, exponential and beta grids (null: the training range).</summary>
    public double? SigmaMin { get; init; }
    /// <c>sigma_max</c> of those grids (null: the training range).
    /// <inheritdoc/>
    public double? SigmaMax { get; init; }
    /// <summary>EulerDiscreteScheduler: "discrete" or "continuous" (with v_prediction the network gets ¼ log σ).</summary>
    public string TimestepType { get; init; } = "discrete";
    /// <c>solver_order</c> of the multistep schedulers.
    public int SolverOrder { get; init; } = 2;
    /// <summary>DPM-Solver: dpmsolver++, sde-dpmsolver++, dpmsolver, sde-dpmsolver; DEIS: deis.</summary>
    public string AlgorithmType { get; init; } = "dpmsolver++";
    /// <summary>DPM-Solver: midpoint or heun; UniPC: bh1 or bh2; DEIS: logrho.</summary>
    public string SolverType { get; init; } = "midpoint";
    /// <c>lower_order_final</c>: lower the order on the last steps.
    public bool LowerOrderFinal { get; init; } = true;
    /// <c>euler_at_final</c>: a first-order last step.
    public bool EulerAtFinal { get; init; }
    /// <c>lambda_min_clipped</c>: the smallest λ = log(α/σ) the DPM-Solver grid reaches.
    public double LambdaMinClipped { get; init; } = double.NegativeInfinity;
    /// <summary>UniPC: data prediction (true) or noise prediction.</summary>
    public bool PredictX0 { get; init; } = true;
    /// <summary>UniPC: steps whose corrector is skipped.</summary>
    public IReadOnlyList<int> DisableCorrector { get; init; } = [];
    /// <summary>Flow-matching keys: read so that a non-default value is a clear error (UNet2DModel checkpoints use VP schedules).</summary>
    public bool UseFlowSigmas { get; init; }
    /// <c>flow_shift</c> (flow matching; only the default is accepted).
    public double FlowShift { get; init; } = 1.0;
    /// <c>use_dynamic_shifting</c> (flow matching; only the default is accepted).
    public bool UseDynamicShifting { get; init; }
    /// <c>time_shift_type</c> (flow matching; only the default is accepted).
    public string TimeShiftType { get; init; } = "exponential";
    /// <c>shift_terminal</c> (flow matching; only the default is accepted).
    public double? ShiftTerminal { get; init; }
    /// <summary>UniPC's solver_p (a scheduler object; only null can be reproduced).</summary>
    public bool HasSolverP { get; init; }
    /// <summary>Keys present in the file that its class does not read (diffusers ignores them with a warning).</summary>
    public IReadOnlyList<string> IgnoredKeys { get; init; } = [];

    /// <summary>Reads and validates a <c>scheduler_config.json</c>.</summary>
    public static SchedulerConfig Load(string path) => Checked(ConfigReader.Load(path, "scheduler config"));

    /// <summary>Parses scheduler-config JSON; <paramref name="source"/> names the file in errors.</summary>
    public static SchedulerConfig Parse(string json, string source) => Checked(ConfigReader.Parse(json, source));

    /// <summary>The largest num_train_timesteps accepted: the schedule tables are built on the host, and real models use 1,000–4,000.</summary>
    public const int MaxTrainTimesteps = 100_000;

    /// <summary>The largest solver_order read (DPM-Solver and DEIS use orders above 3 as 3; UniPC goes to 5 here).</summary>
    public const int MaxSolverOrder = 8;

    /// <summary>The beta_schedule values <see cref="CreateSchedule"/> knows.</summary>
    public static readonly string[] BetaSchedules = [.. DiscreteSchedule.BetaSchedules, "laplace", "exp"];

    private static SchedulerConfig Checked(ConfigReader p)
    {
        var c = From(p);
        return DiffusersClasses.Find(c.ClassName) is { } cls ? c with { IgnoredKeys = cls.CheckKeys(p) } : c;
    }

    /// <summary>Reads the keys from a config object (a scheduler config, or a GMM spec that embeds them).</summary>
    internal static SchedulerConfig From(ConfigReader p)
    {
        string? className = p.String("_class_name", null);
        var c = (DiffusersClasses.Find(className)?.Defaults ?? new SchedulerConfig()) with { ClassName = className, Source = p.Source };
        int timesteps = p.Int("num_train_timesteps", c.NumTrainTimesteps, 2, MaxTrainTimesteps);
        c = c with
        {
            NumTrainTimesteps = timesteps,
            BetaSchedule = p.String("beta_schedule", c.BetaSchedule) ?? throw Null(p, "beta_schedule"),
            BetaStart = p.Double("beta_start", c.BetaStart, 0, 1),
            BetaEnd = p.Double("beta_end", c.BetaEnd, 0, 1),
            TrainedBetas = p.Doubles("trained_betas"),
            PredictionType = p.String("prediction_type", c.PredictionType) ?? throw Null(p, "prediction_type"),
            TimestepSpacing = p.String("timestep_spacing", c.TimestepSpacing) ?? throw Null(p, "timestep_spacing"),
            StepsOffset = p.Int("steps_offset", c.StepsOffset, 0, timesteps - 1),
            ClipSample = p.Bool("clip_sample", c.ClipSample),
            ClipSampleRange = p.Double("clip_sample_range", c.ClipSampleRange, double.Epsilon, double.MaxValue),
            RescaleBetasZeroSnr = p.Bool("rescale_betas_zero_snr", c.RescaleBetasZeroSnr),
            FinalSigmasType = p.String("final_sigmas_type", c.FinalSigmasType) ?? throw Null(p, "final_sigmas_type"),
            Thresholding = p.Bool("thresholding", c.Thresholding),
            DynamicThresholdingRatio = p.Double("dynamic_thresholding_ratio", c.DynamicThresholdingRatio, 0, 1),
            SampleMaxValue = p.Double("sample_max_value", c.SampleMaxValue, 0, double.MaxValue),
            SetAlphaToOne = p.Bool("set_alpha_to_one", c.SetAlphaToOne),
            VarianceType = p.String("variance_type", c.VarianceType),
            SkipPrkSteps = p.Bool("skip_prk_steps", c.SkipPrkSteps),
            InterpolationType = p.String("interpolation_type", c.InterpolationType) ?? throw Null(p, "interpolation_type"),
            UseKarrasSigmas = NullableBool(p, "use_karras_sigmas", c.UseKarrasSigmas),
            UseExponentialSigmas = NullableBool(p, "use_exponential_sigmas", c.UseExponentialSigmas),
            UseBetaSigmas = NullableBool(p, "use_beta_sigmas", c.UseBetaSigmas),
            UseLuLambdas = NullableBool(p, "use_lu_lambdas", c.UseLuLambdas),
            SigmaMin = p.NullableDouble("sigma_min", c.SigmaMin, double.Epsilon, double.MaxValue),
            SigmaMax = p.NullableDouble("sigma_max", c.SigmaMax, double.Epsilon, double.MaxValue),
            TimestepType = p.String("timestep_type", c.TimestepType) ?? throw Null(p, "timestep_type"),
            SolverOrder = p.Int("solver_order", c.SolverOrder, 1, MaxSolverOrder),
            AlgorithmType = p.String("algorithm_type", c.AlgorithmType) ?? throw Null(p, "algorithm_type"),
            SolverType = p.String("solver_type", c.SolverType) ?? throw Null(p, "solver_type"),
            LowerOrderFinal = p.Bool("lower_order_final", c.LowerOrderFinal),
            EulerAtFinal = p.Bool("euler_at_final", c.EulerAtFinal),
            LambdaMinClipped = p.Double("lambda_min_clipped", c.LambdaMinClipped),
            PredictX0 = p.Bool("predict_x0", c.PredictX0),
            DisableCorrector = p.Ints("disable_corrector", [.. c.DisableCorrector], 0, int.MaxValue),
            UseFlowSigmas = NullableBool(p, "use_flow_sigmas", c.UseFlowSigmas),
            FlowShift = p.Double("flow_shift", c.FlowShift),
            UseDynamicShifting = p.Bool("use_dynamic_shifting", c.UseDynamicShifting),
            TimeShiftType = p.String("time_shift_type", c.TimeShiftType) ?? throw Null(p, "time_shift_type"),
            ShiftTerminal = p.NullableDouble("shift_terminal", c.ShiftTerminal),
            HasSolverP = p.Root.TryGetProperty("solver_p", out var solverP) && solverP.ValueKind != JsonValueKind.Null,
        };
        c.Validate(p.Source);
        return c;
    }

    private static ModelFormatException Null(ConfigReader p, string key) => new($"{p.Source}: key '{key}' must not be null");

    /// <summary>diffusers types use_*_sigmas as Optional[bool]: null reads as false.</summary>
    private static bool NullableBool(ConfigReader p, string key, bool fallback) =>
        !(p.Root.TryGetProperty(key, out var e) && e.ValueKind == JsonValueKind.Null) && p.Bool(key, fallback);

    /// <summary>
    /// Checks the keys every sampler uses. Errors are <see cref="ModelFormatException"/>s naming <paramref name="source"/>
    /// (the file), or, with <paramref name="commandLine"/>, <see cref="ArgumentException"/>s (values given as options).
    /// </summary>
    public void Validate(string source, bool commandLine = false)
    {
        Exception Bad(string key, string message) => commandLine ? new ArgumentException($"{source}: {key} {message}") : new ModelFormatException($"{source}: key '{key}' {message}");
        if (NumTrainTimesteps < 2) throw Bad("num_train_timesteps", $"must be ≥ 2, found {NumTrainTimesteps}");
        if (TrainedBetas is null && !BetaSchedules.Contains(BetaSchedule))
            throw Bad("beta_schedule", $"value '{BetaSchedule}' is not supported ({string.Join(", ", BetaSchedules)})");
        if (TrainedBetas is { } betas && (betas.Count != NumTrainTimesteps || betas.Any(b => !(b >= 0 && b <= 1))))
            throw Bad("trained_betas", $"must hold num_train_timesteps ({NumTrainTimesteps}) values in [0, 1], found {betas.Count} values");
        if (FinalSigmasType is not ("zero" or "sigma_min"))
            throw Bad("final_sigmas_type", $"value '{FinalSigmasType}' is not supported (zero, sigma_min)");
        if (Thresholding && !(DynamicThresholdingRatio > 0 && DynamicThresholdingRatio <= 1 && SampleMaxValue >= 1))
            throw Bad("thresholding", $"needs 0 < dynamic_thresholding_ratio ≤ 1 and sample_max_value ≥ 1, found {DynamicThresholdingRatio} and {SampleMaxValue}");
        if (TimestepSpacing is not ("leading" or "trailing" or "linspace"))
            throw Bad("timestep_spacing", $"value '{TimestepSpacing}' is not supported (leading, trailing, linspace)");
        string[] predictions = ClassName == "EulerDiscreteScheduler" ? ["epsilon", "v_prediction", "sample", "original_sample"] : ["epsilon", "v_prediction", "sample"];
        if (!predictions.Contains(PredictionType))
            throw Bad("prediction_type", $"value '{PredictionType}' is not supported ({string.Join(", ", predictions)})");
    }

    /// <summary>The training schedule: β from trained_betas or beta_schedule (in float32, as torch), optionally rescaled to zero terminal SNR.</summary>
    public DiscreteSchedule CreateSchedule()
    {
        if (TrainedBetas is null && BetaSchedule is not ("laplace" or "exp"))
            return DiscreteSchedule.Create(BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, RescaleBetasZeroSnr);
        var betas = TrainedBetas is { } trained ? trained.Select(b => (double)(float)b).ToArray() : AlphaBarBetas(BetaSchedule, NumTrainTimesteps);
        return new DiscreteSchedule(RescaleBetasZeroSnr ? DiscreteSchedule.RescaleZeroTerminalSnr(betas) : betas);
    }

    /// <summary>diffusers' betas_for_alpha_bar with its "laplace" and "exp" transforms: β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999), in float32.</summary>
    private static double[] AlphaBarBetas(string transform, int steps)
    {
        Func<double, double> alphaBar = transform == "exp"
            ? t => Math.Exp(t * -12.0)
            : t =>
            {
                double lambda = -0.5 * Math.CopySign(1, 0.5 - t) * Math.Log(1 - 2 * Math.Abs(0.5 - t) + 1e-6), snr = Math.Exp(lambda);
                return Math.Sqrt(snr / (1 + snr));
            };
        return Enumerable.Range(0, steps).Select(i => (double)(float)Math.Min(1 - alphaBar((i + 1.0) / steps) / alphaBar((double)i / steps), 0.999)).ToArray();
    }

    /// <summary>
    /// The denoiser with this config's x̂₀ post-processing: dynamic thresholding when <c>thresholding</c> is set (it
    /// takes precedence over clip_sample, as in diffusers), else clipping when <paramref name="clipSample"/> (or
    /// <c>clip_sample</c>) is set.
    /// </summary>
    public Denoisers.IDenoiser Wrap(Denoisers.IDenoiser denoiser, bool? clipSample = null) =>
        Thresholding ? new Denoisers.DynamicThresholdDenoiser(denoiser, DynamicThresholdingRatio, SampleMaxValue)
        : clipSample ?? ClipSample ? new Denoisers.ClippedDenoiser(denoiser, (float)ClipSampleRange)
        : denoiser;

    /// <see cref="PredictionType"/> as an enum.
    public Denoisers.Prediction Prediction => PredictionType switch
    {
        "v_prediction" => Denoisers.Prediction.VPrediction,
        "sample" or "original_sample" => Denoisers.Prediction.Sample,
        _ => Denoisers.Prediction.Epsilon,
    };
}
