using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// One of diffusers' scheduler classes, reproduced step for step from its <c>scheduler_config.json</c>: the class named
/// by <c>_class_name</c>, every key it reads, its timestep grid and its update, in its own variables (the sample x_t
/// of a DDIM-style scheduler, x = x₀ + σε for the Euler family). <see cref="Sample"/> runs the loop every diffusers
/// pipeline runs: x = x_T·init_noise_sigma, then for each timestep t: x = step(model(scale_model_input(x, t), t), t, x).
/// Immutable and shareable; each run keeps its own state.
/// </summary>
public abstract class DiffusersScheduler
{
    private protected DiffusersScheduler(SchedulerConfig config)
    {
        Config = config;
        ClassName = config.ClassName ?? throw new ArgumentException("the scheduler config names no class");
        // A key the class does not read must not change its schedule (diffusers ignores it): of the schedule keys only
        // rescale_betas_zero_snr is missing from some classes.
        bool rescales = DiffusersClasses.Find(ClassName)?.Keys.Contains("rescale_betas_zero_snr") == true && config.RescaleBetasZeroSnr;
        Tables = new Lazy<TrainingTables>(() => new TrainingTables((config with { RescaleBetasZeroSnr = rescales }).CreateSchedule(), ClampsZeroSnr));
    }

    /// <summary>The config this scheduler was built from.</summary>
    public SchedulerConfig Config { get; }
    /// <summary>diffusers' class name, e.g. DDIMScheduler.</summary>
    public string ClassName { get; }
    /// <summary>The diffusers release whose schedulers are reproduced (and that the test fixtures were made with).</summary>
    public const string DiffusersVersion = "0.40.0";
    /// <summary>The classes <see cref="FromConfig"/> accepts.</summary>
    public static IReadOnlyList<string> Classes { get; } = [.. DiffusersClasses.Names];

    internal Lazy<TrainingTables> Tables { get; }
    /// <summary>Whether the class reads a zero terminal ᾱ as 2⁻²⁴ (the σ-based classes) or keeps 0 (DDIM, DDPM).</summary>
    private protected virtual bool ClampsZeroSnr => true;

    /// <summary>A config holding <paramref name="className"/>'s defaults, as diffusers' constructor has them.</summary>
    public static SchedulerConfig Defaults(string className) =>
        (DiffusersClasses.Find(className) ?? throw new ArgumentException($"scheduler class '{className}' is not supported; supported: {string.Join(", ", Classes)}"))
        .Defaults with
        { ClassName = className };

    /// <summary>
    /// The scheduler <paramref name="config"/> names, checked as diffusers checks it: an unknown class, a key value the
    /// class refuses or cannot be reproduced is an error naming the file and key (<see cref="ModelFormatException"/> for a
    /// file, <see cref="ArgumentException"/> for a config built in code). <paramref name="eta"/> is DDIMScheduler's η
    /// (the pipeline's eta argument; default 0).
    /// </summary>
    public static DiffusersScheduler FromConfig(SchedulerConfig config, double? eta = null)
    {
        if (config.ClassName is null)
            throw ConfigError(config, "_class_name", $"is missing; a diffusers scheduler config names its class ({string.Join(", ", Classes)})");
        var cls = DiffusersClasses.Find(config.ClassName)
            ?? throw ConfigError(config, "_class_name", $"'{config.ClassName}' is not supported; supported: {string.Join(", ", Classes)}");
        var scheduler = cls.Create(config);
        if (eta is { } e)
        {
            if (scheduler is not DdimScheduler ddim) throw new ArgumentException($"eta applies to DDIMScheduler only, not {config.ClassName}");
            scheduler = ddim.WithEta(e);
        }
        return scheduler;
    }

    /// <summary>diffusers' set_timesteps: the grid of a <paramref name="steps"/>-step run, with its own state.</summary>
    public DiffusersRun Start(int steps)
    {
        if (steps < 1 || steps > Config.NumTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(steps), $"{ClassName}: steps must be in 1..num_train_timesteps ({Config.NumTrainTimesteps}), found {steps}");
        return CreateRun(steps);
    }

    private protected abstract DiffusersRun CreateRun(int steps);

    /// <summary>The timesteps the network is called with in a <paramref name="steps"/>-step run (diffusers' scheduler.timesteps, as float32).</summary>
    public IReadOnlyList<float> Timesteps(int steps) => Start(steps).Timesteps;

    /// <summary>
    /// Runs the scheduler over <paramref name="model"/>: <paramref name="latents"/> enters as the unit-variance x_T a
    /// pipeline draws (it is scaled by init_noise_sigma here) and leaves as the pipeline's output. Stochastic steps
    /// draw from <paramref name="noise"/>, else from Philox keyed by (seed, sample index, step) of <paramref name="options"/>.
    /// </summary>
    public void Sample(IDiffusersModel model, Tensor latents, int steps, SamplerOptions? options = null, NoiseSource? noise = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(latents);
        var run = Start(steps);
        using var ctx = new RunContext(model.Backend, latents.Shape, options ?? new SamplerOptions(), noise, ClassName);
        foreach (var _ in Loop(model, latents, run, ctx)) { }
    }

    /// <summary>
    /// Starts the loop <see cref="Sample"/> runs without running it: each <see cref="SamplerRun.Step"/> is one network call
    /// and one step() (the first also scales <paramref name="latents"/> by init_noise_sigma). Stepping to the end gives
    /// exactly what <see cref="Sample"/> gives with the same arguments.
    /// </summary>
    /// <param name="model">The network the scheduler calls.</param>
    /// <param name="latents">The unit-variance x_T, updated in place; the caller keeps ownership.</param>
    /// <param name="steps">Inference steps (set_timesteps).</param>
    /// <param name="options">Seed, callbacks, cancellation and the finite check.</param>
    /// <param name="noise">The noise of stochastic steps; null for Philox keyed by (seed, sample index, step).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is outside 1..num_train_timesteps.</exception>
    public SamplerRun Begin(IDiffusersModel model, Tensor latents, int steps, SamplerOptions? options = null, NoiseSource? noise = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(latents);
        var run = Start(steps);
        var ctx = new RunContext(model.Backend, latents.Shape, options ?? new SamplerOptions(), noise, ClassName, keepStepState: true);
        return new SamplerRun(Loop(model, latents, run, ctx), () => ctx.LastState, latents, ctx);
    }

    /// <summary>
    /// The pipeline's loop as an iterator: x = x_T·init_noise_sigma (before the first step), then per timestep a network
    /// call, step() and the end-of-step checks, yielding after each.
    /// </summary>
    private static IEnumerable<StepInfo> Loop(IDiffusersModel model, Tensor latents, DiffusersRun run, RunContext ctx)
    {
        var b = model.Backend;
        if (run.InitNoiseSigma != 1) b.Scale(latents, (float)run.InitNoiseSigma, latents);
        Tensor output = ctx.Like();
        Tensor? input = null;
        int calls = run.Timesteps.Length;
        for (int i = 0; i < calls; i++)
        {
            double scale = run.InputScale(i);
            var x = latents;
            if (scale != 1)
            {
                input ??= ctx.Like();
                b.Scale(latents, (float)scale, input);
                x = input;
            }
            model.Predict(x, run.Timesteps[i], output);
            run.Step(i, output, latents, ctx);
            var (from, to) = run.Levels(i);
            yield return ctx.EndStep(i, calls, from, to, model.Evaluations, latents, run.Timesteps[i]);
        }
    }

    /// <summary>A config error: <see cref="ModelFormatException"/> naming the file and key when the config came from one.</summary>
    internal static Exception ConfigError(SchedulerConfig c, string key, string message) =>
        c.Source is { } file ? new ModelFormatException($"{file}: key '{key}' {message}") : new ArgumentException($"{c.ClassName}: {key} {message}");

    internal Exception Error(string key, string message) => ConfigError(Config, key, message);

    internal void Require(bool ok, string key, string message)
    {
        if (!ok) throw Error(key, message);
    }

    /// <summary>beta_schedule must be one the class implements (diffusers raises NotImplementedError otherwise).</summary>
    internal void CheckBetaSchedule(params string[] allowed) =>
        Require(Config.TrainedBetas is not null || allowed.Contains(Config.BetaSchedule), "beta_schedule",
            $"'{Config.BetaSchedule}' is not implemented by diffusers' {ClassName} (it has {string.Join(", ", allowed)})");

    internal void CheckPrediction(params string[] allowed) =>
        Require(allowed.Contains(Config.PredictionType), "prediction_type",
            $"'{Config.PredictionType}' is not supported by diffusers' {ClassName} (it has {string.Join(", ", allowed)})");

    /// <summary>At most one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas (diffusers' ValueError).</summary>
    internal void CheckSigmaGrids() =>
        Require(new[] { Config.UseKarrasSigmas, Config.UseExponentialSigmas, Config.UseBetaSigmas }.Count(v => v) <= 1, "use_karras_sigmas",
            "use_karras_sigmas, use_exponential_sigmas and use_beta_sigmas exclude each other");

    /// <summary>Flow-matching grids are for flow models, not the VP schedules of UNet2DModel checkpoints.</summary>
    internal void CheckNoFlow() => Require(!Config.UseFlowSigmas, "use_flow_sigmas", "true (flow-matching σ) is not supported; only VP schedules");

    /// <summary>
    /// The config checks the two DPM-Solver classes share; returns the algorithm that runs. diffusers maps DEIS's
    /// algorithm and the other classes' solver types onto its own, and refuses σ = 0 at the end of the noise-prediction
    /// algorithms (checked on the name given, so "deis" with "zero" is refused too).
    /// </summary>
    internal string CheckDpmSolverConfig(string[] algorithms)
    {
        var config = Config;
        CheckBetaSchedule("linear", "scaled_linear", "squaredcos_cap_v2");
        CheckPrediction("epsilon", "v_prediction", "sample");
        CheckSigmaGrids();
        CheckNoFlow();
        Require(algorithms.Contains(config.AlgorithmType) || config.AlgorithmType == "deis", "algorithm_type",
            $"'{config.AlgorithmType}' is not supported ({string.Join(", ", algorithms)}; deis reads as dpmsolver++)");
        Require(config.SolverType is "midpoint" or "heun" or "logrho" or "bh1" or "bh2", "solver_type",
            $"'{config.SolverType}' is not supported (midpoint, heun; logrho, bh1 and bh2 read as midpoint)");
        Require(config.AlgorithmType is "dpmsolver++" or "sde-dpmsolver++" || config.FinalSigmasType != "zero", "final_sigmas_type",
            $"'zero' is not supported with algorithm_type '{config.AlgorithmType}' (diffusers refuses it: choose sigma_min)");
        Require(config.VarianceType is null or "learned" or "learned_range", "variance_type", $"'{config.VarianceType}' is not supported (null, learned, learned_range)");
        return config.AlgorithmType == "deis" ? "dpmsolver++" : config.AlgorithmType;
    }

    /// <summary>The sigma grid a σ-based class converts to: karras, exponential, beta or none.</summary>
    internal string SigmaGrid => Config.UseKarrasSigmas ? "karras" : Config.UseExponentialSigmas ? "exponential" : Config.UseBetaSigmas ? "beta" : "none";

    /// <summary>
    /// σ converted to the configured grid (n points between <paramref name="min"/> and <paramref name="max"/>, or the
    /// config's sigma_min/sigma_max for classes that read them), or null when the class uses no σ grid.
    /// </summary>
    internal double[]? ConvertSigmas(double min, double max, int n, bool configRange)
    {
        if (configRange)
        {
            min = Config.SigmaMin ?? min;
            max = Config.SigmaMax ?? max;
        }
        return SigmaGrid switch
        {
            "karras" => Grids.Karras(min, max, n),
            "exponential" => Grids.Exponential(min, max, n),
            "beta" => Grids.Beta(min, max, n),
            _ => null,
        };
    }

    /// <summary>
    /// diffusers finds the first step by looking up the first timestep and takes its second occurrence when it repeats;
    /// the run then steps past the end of its σ table (an IndexError there). Refused here with the reason.
    /// </summary>
    internal void CheckFirstTimestep(IReadOnlyList<double> timesteps)
    {
        if (timesteps.Skip(1).Contains(timesteps[0]))
            throw new ArgumentException($"{ClassName}: the first timestep {timesteps[0]} repeats in this grid; diffusers then starts at its second occurrence and fails at the end of the run");
    }
}

/// <summary>One run of a <see cref="DiffusersScheduler"/>: the grid of set_timesteps and the state step() keeps.</summary>
/// <remarks>Thread safety: the state of one run, used by the thread running it.</remarks>
public abstract class DiffusersRun
{
    /// <summary>The network's timesteps, one per call (scheduler.timesteps as the U-Net receives them: float32).</summary>
    public float[] Timesteps { get; private protected init; } = [];
    /// <summary>The factor a pipeline multiplies the unit-variance x_T by.</summary>
    public double InitNoiseSigma { get; private protected init; } = 1;
    /// <summary>scale_model_input at call <paramref name="i"/>: the network sees x times this.</summary>
    public virtual double InputScale(int i) => 1;
    /// <summary>The σ-space noise levels call <paramref name="i"/> goes from and to (for progress displays).</summary>
    public abstract (double From, double To) Levels(int i);

    /// <summary>diffusers' step(): updates <paramref name="sample"/> in place from the network's <paramref name="output"/> at call <paramref name="i"/>.</summary>
    internal abstract void Step(int i, Tensor output, Tensor sample, RunContext ctx);

    /// <summary>σ of ᾱ (for levels of ᾱ-based schedulers).</summary>
    private protected static double SigmaOf(double alphaCumprod) => Math.Sqrt((1 - alphaCumprod) / alphaCumprod);
}
