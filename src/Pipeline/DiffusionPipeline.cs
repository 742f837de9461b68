using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels;

/// <summary>
/// The one object an app needs to sample a diffusion model: opens a diffusers UNet2DModel folder, a known topology
/// (random weights, for benchmarks), a Gaussian-mixture spec (<c>gmm:spec.json</c>) or any <see cref="IDenoiser"/> on a
/// device, and draws samples with <see cref="Generate"/> / <see cref="GenerateAsync"/>. <c>dk sample</c> runs through
/// it, so the same request gives the same bytes.
/// </summary>
/// <example>
/// <code>
/// using var pipeline = DiffusionPipeline.Open(BundledModel.Find(), device: "auto");
/// var result = pipeline.Generate(new GenerationRequest { NumSamples = 4, Steps = 20, Seed = 7 });
/// result.Save("grid.png");
/// </code>
/// </example>
/// <remarks>
/// The network is compiled for a batch size, class condition and schedule overrides on first use and kept until a
/// request needs others. Thread safety: any number of threads may call <see cref="Generate"/> on one pipeline; their
/// runs are serialized, and each returns exactly what it returns alone. For parallel runs, open one pipeline per
/// thread (on a backend that <see cref="Backend.SupportsConcurrentCalls"/>). Disposal must not race with a run.
/// </remarks>
public sealed class DiffusionPipeline : IDisposable
{
    private readonly object _gate = new();
    private readonly bool _ownsBackend;
    private readonly IDenoiser? _denoiser;
    private readonly SchedulerConfig? _denoiserSchedule;
    private readonly bool _ownsDenoiser;
    private DiffusionModel? _model;
    private ModelKey? _key;
    private bool _disposed;

    private sealed record ModelKey(int Batch, ClassConditioning? Conditioning, ScheduleOverrides Overrides, ImageConditioning? Image = null);

    private DiffusionPipeline(string source, Backend backend, bool ownsBackend, IDenoiser? denoiser = null, SchedulerConfig? schedule = null, bool ownsDenoiser = false)
    {
        Source = source;
        Backend = backend;
        _ownsBackend = ownsBackend;
        _denoiser = denoiser;
        _denoiserSchedule = schedule;
        _ownsDenoiser = ownsDenoiser;
    }

    /// <summary>The model folder, topology name, <c>gmm:</c> spec or denoiser name the pipeline samples.</summary>
    public string Source { get; }

    /// <summary>The backend the pipeline runs on.</summary>
    public Backend Backend { get; }

    /// <summary>
    /// Opens <paramref name="model"/> (a diffusers UNet2DModel folder, a known topology, or <c>gmm:spec.json</c>) on
    /// <paramref name="device"/>: <c>auto</c> (CUDA when there is one, else the CPU), <c>cuda</c>, <c>cuda:N</c>, <c>cpu</c> or
    /// <c>ilgpu-cpu</c>. The pipeline owns the device's backend.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The model folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The mixture spec does not exist.</exception>
    /// <exception cref="DeviceNotAvailableException">The device is unknown or absent.</exception>
    public static DiffusionPipeline Open(string model, string device = "auto")
    {
        RequireSource(model);
        var backend = Devices.Create(device);
        return new DiffusionPipeline(model, backend, ownsBackend: true);
    }

    /// <summary>Opens <paramref name="model"/> on a backend the caller owns (and disposes after the pipeline).</summary>
    /// <inheritdoc cref="Open(string, string)" path="/exception"/>
    public static DiffusionPipeline Open(string model, Backend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        RequireSource(model);
        return new DiffusionPipeline(model, backend, ownsBackend: false);
    }

    /// <summary>Opens the bundled phantom model (<see cref="BundledModel"/>) on <paramref name="device"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The bundled model was not found.</exception>
    /// <exception cref="DeviceNotAvailableException">The device is unknown or absent.</exception>
    public static DiffusionPipeline OpenBundled(string device = "auto") => Open(BundledModel.Find(), device);

    /// <summary>
    /// A pipeline around any denoiser (<see cref="FunctionDenoiser"/>, another network): every solver and diffusers
    /// scheduler runs on it. <paramref name="schedule"/> gives the training timesteps and σ grids (default: diffusers' DDPM
    /// defaults); the denoiser must take any batch size up to the requests' <see cref="GenerationRequest.BatchSize"/>.
    /// </summary>
    /// <param name="denoiser">The denoiser, on the backend the pipeline uses.</param>
    /// <param name="schedule">Its scheduler config.</param>
    /// <param name="ownsDenoiser">Whether disposing the pipeline disposes the denoiser (when it is <see cref="IDisposable"/>).</param>
    /// <param name="name">A name for messages and <see cref="Source"/>.</param>
    public static DiffusionPipeline FromDenoiser(IDenoiser denoiser, SchedulerConfig? schedule = null, bool ownsDenoiser = false, string name = "custom denoiser")
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        // Checked now, so a bad schedule or shape fails here rather than at the first request.
        DiffusionModel.FromDenoiser(denoiser, 1, schedule, name).Dispose();
        return new DiffusionPipeline(name, denoiser.Backend, ownsBackend: false, denoiser, schedule ?? new SchedulerConfig(), ownsDenoiser);
    }

    private static void RequireSource(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        if (model.StartsWith("gmm:", StringComparison.Ordinal))
        {
            if (!File.Exists(model[4..])) throw new FileNotFoundException($"{model[4..]}: the mixture spec does not exist", model[4..]);
        }
        else if (!KnownTopologies.ByName.ContainsKey(model) && !Directory.Exists(model))
            throw new DirectoryNotFoundException($"{model}: the model folder does not exist (known topologies: {string.Join(", ", KnownTopologies.ByName.Keys)})");
    }

    /// <summary>
    /// The model compiled for <paramref name="request"/>'s batch size, class condition and schedule overrides (what
    /// <see cref="Generate"/> uses; it opens it on demand). Its sample shape and scheduler config describe what a request
    /// can give. Code that calls its denoiser directly must hold <see cref="DiffusionModel.Exclusive"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The request is invalid, or does not fit the model (the message names the setting).</exception>
    /// <exception cref="ModelFormatException">A file of the model is malformed (the message names it).</exception>
    /// <exception cref="InsufficientMemoryException">The network at this batch size cannot fit in memory.</exception>
    public DiffusionModel Prepare(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var conditioning = request.ClassLabel is { } label ? new ClassConditioning(label, request.GuidanceScale, request.NullClassLabel) : null;
            var image = request.Condition is null ? null : new ImageConditioning(request.GuidanceScale);
            var key = new ModelKey(Math.Min(request.BatchSize, TotalSamples(request)), conditioning, request.ScheduleOverrides ?? new ScheduleOverrides(), image);
            if (_model is not null && key == _key) return _model;
            if (_openSessions > 0)
                throw new InvalidOperationException($"an open generation session holds the model compiled for batch {_key!.Batch}; finish and dispose it before a request with another batch size, class condition or schedule overrides");
            _model?.Dispose();
            _model = null;
            _model = _denoiser is null ? OpenModel(key, conditioning, image) : OpenDenoiser(key);
            _key = key;
            return _model;
        }
    }

    /// <summary>Opens the model; a class condition that does not fit it is reported in the request's terms.</summary>
    private DiffusionModel OpenModel(ModelKey key, ClassConditioning? conditioning, ImageConditioning? image)
    {
        try
        {
            return DiffusionModel.Open(Source, Backend, key.Batch, key.Overrides, conditioning, image);
        }
        catch (ArgumentException e) when (e.ParamName == "conditioning")
        {
            string message = e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal)
                .Replace($"{nameof(ClassConditioning)}.{nameof(ClassConditioning.Label)}", $"{nameof(GenerationRequest)}.{nameof(GenerationRequest.ClassLabel)}", StringComparison.Ordinal)
                .Replace($"{nameof(ClassConditioning)}.{nameof(ClassConditioning.NullLabel)}", $"{nameof(GenerationRequest)}.{nameof(GenerationRequest.NullClassLabel)}", StringComparison.Ordinal)
                .Replace($"{nameof(ClassConditioning)} does not apply", $"{nameof(GenerationRequest)}.{nameof(GenerationRequest.ClassLabel)} and {nameof(GenerationRequest.GuidanceScale)} do not apply", StringComparison.Ordinal);
            throw new ArgumentException(message, e);
        }
    }

    private DiffusionModel OpenDenoiser(ModelKey key)
    {
        if (key.Image is not null) throw new ArgumentException($"{Source}: a condition image applies to image-conditioned U-Nets; condition a custom denoiser yourself");
        if (key.Conditioning is not null) throw new ArgumentException($"{Source}: class labels and guidance apply to class-conditional U-Nets; condition a custom denoiser yourself");
        var o = key.Overrides;
        var schedule = _denoiserSchedule! with
        {
            BetaSchedule = o.BetaSchedule ?? _denoiserSchedule.BetaSchedule,
            PredictionType = o.PredictionType ?? _denoiserSchedule.PredictionType,
            ClipSample = o.ClipSample ?? _denoiserSchedule.ClipSample,
        };
        return DiffusionModel.FromDenoiser(_denoiser!, key.Batch, schedule, Source);
    }

    /// <summary>Steps the whole run of <paramref name="request"/> takes (steps per batch × batches), for progress displays.</summary>
    /// <inheritdoc cref="Prepare" path="/exception"/>
    public long TotalSteps(GenerationRequest request)
    {
        lock (_gate)
        {
            var model = Prepare(request);
            var plan = Plan(request, model);
            return (long)plan.StepsPerBatch * Batches(request, model);
        }
    }

    private int Batches(GenerationRequest request, DiffusionModel model) => (TotalSamples(request) + model.Batch - 1) / model.Batch;

    /// <summary>
    /// Shape of one condition image [C_cond, H, W] when the model is image-conditioned (its config has more input than
    /// output channels), else null: what <see cref="GenerationRequest.Condition"/> must hold per condition. Read from the
    /// model's config.json without compiling the network.
    /// </summary>
    /// <exception cref="ModelFormatException">The config is malformed (the message names it).</exception>
    public int[]? ConditionShape
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_model is not null) return _model.ConditionShape;
                if (_conditionShape is { } known) return known.Length == 0 ? null : known;
                int[] shape = [];
                if (_denoiser is null && !Source.StartsWith("gmm:", StringComparison.Ordinal))
                {
                    var config = KnownTopologies.ByName.TryGetValue(Source, out var json) ? UNetConfig.Parse(json, Source) : UNetConfig.Load(Path.Combine(Source, "config.json"));
                    if (config.InChannels > config.OutChannels && config.SampleSize is { } size) shape = [config.InChannels - config.OutChannels, size, size];
                }
                _conditionShape = shape;
                return shape.Length == 0 ? null : shape;
            }
        }
    }

    private int[]? _conditionShape;

    /// <summary>Samples the request draws in all: <see cref="GenerationRequest.NumSamples"/>, times the conditions when it has them.</summary>
    private int TotalSamples(GenerationRequest request)
    {
        if (request.Condition is not { } condition) return request.NumSamples;
        var shape = ConditionShape ?? throw new ArgumentException($"{Source}: the model is not image-conditioned; it takes no condition image");
        int per = shape.Aggregate(1, (a, b) => a * b);
        if (condition.Length == 0 || condition.Length % per != 0)
            throw new ShapeMismatchException($"the condition must hold whole images of {Shape.Format(shape)} ({per} values each), found {condition.Length} values");
        long total = (long)(condition.Length / per) * request.NumSamples;
        if (total > int.MaxValue) throw new ArgumentException($"{condition.Length / per} conditions × {request.NumSamples} samples each are too many for one run");
        return (int)total;
    }

    /// <summary>
    /// Draws <see cref="GenerationRequest.NumSamples"/> samples. <paramref name="progress"/> hears after every step (on
    /// the sampling thread); <paramref name="cancellationToken"/> stops the run at the end of a step.
    /// </summary>
    /// <exception cref="ArgumentException">The request is invalid or does not fit the model (the message names the setting).</exception>
    /// <exception cref="ShapeMismatchException">The initial noise or images do not hold the samples asked for.</exception>
    /// <exception cref="NumericalInstabilityException">A step produced NaN or Inf (with <see cref="GenerationRequest.CheckFinite"/>).</exception>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    /// <exception cref="ModelFormatException">A file of the model is malformed (the message names it).</exception>
    /// <exception cref="InsufficientMemoryException">The network or the samples cannot fit in memory.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline has been disposed.</exception>
    public GenerationResult Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_gate)
        {
            using var session = Begin(request, progress, cancellationToken);
            return session.Finish();
        }
    }

    /// <summary>
    /// Starts <paramref name="request"/>'s run without running it, for an app that drives the sampling loop itself:
    /// <see cref="GenerationSession.Step"/> takes one solver or scheduler step (batch after batch), after which
    /// <see cref="GenerationSession.Current"/> holds the step, σ, timestep, x and x̂₀, x may be edited, and the app may stop;
    /// <see cref="GenerationSession.Finish"/> takes the remaining steps and returns the result. Stepping to the end gives
    /// exactly <see cref="Generate"/>'s samples for the same request (Generate runs such a session).
    /// </summary>
    /// <example>
    /// <code>
    /// using var session = pipeline.Begin(new GenerationRequest { Sampler = "dpmpp_2m", Steps = 20 });
    /// while (session.Step())
    /// {
    ///     var state = session.Current!;
    ///     if (state.Sigma &lt; 0.5) session.Stop(); // or read state.CopyDenoised(), state.SetX(…)
    /// }
    /// var result = session.Finish();
    /// </code>
    /// </example>
    /// <remarks>
    /// The session keeps the model compiled for the request until it is disposed: meanwhile, requests with another batch
    /// size, class condition or schedule overrides are refused. Each step holds the pipeline for its duration, so other
    /// calls on the pipeline may run between steps without changing the session's samples.
    /// </remarks>
    /// <exception cref="ArgumentException">The request is invalid or does not fit the model (the message names the setting).</exception>
    /// <exception cref="ShapeMismatchException">The initial noise or images do not hold the samples asked for.</exception>
    /// <exception cref="ModelFormatException">A file of the model is malformed (the message names it).</exception>
    /// <exception cref="InsufficientMemoryException">The network or the samples cannot fit in memory.</exception>
    /// <exception cref="InvalidOperationException">Another open session holds a model compiled for other settings.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline has been disposed.</exception>
    public GenerationSession Begin(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_gate)
        {
            var model = Prepare(request);
            var plan = Plan(request, model);
            long total = (long)plan.StepsPerBatch * Batches(request, model), done = 0;
            var options = new SamplerOptions
            {
                Seed = request.Seed,
                FirstSampleIndex = request.FirstSampleIndex,
                Cancellation = cancellationToken,
                CheckFinite = request.CheckFinite,
                OnStep = request.OnStep,
            };
            Action<RunProgress>? report = progress is null ? null : p => progress.Report(new GenerationProgress(
                p.SamplesDone, p.Samples, p.Step.Step, p.Step.Steps, p.Step.Sigma, p.Step.NextSigma, p.Step.Evaluations, ++done, total));
            int evaluations0 = plan.Scheduler is null ? model.Denoiser.Evaluations : model.Network.Evaluations;
            int count = TotalSamples(request);
            if (request.Condition is { } condition)
            {
                CheckConditionValues(condition, model, request.CheckFinite);
                if (plan.Init is { } init && init.Length != (long)count * model.SampleLength)
                    throw new ShapeMismatchException($"the initial {(plan.InitIsImage ? "images" : "noise")} must hold {count} samples ({count / request.NumSamples} conditions × {request.NumSamples}) of {Shape.Format(model.SampleShape)}, found {init.Length} values");
            }
            var sampling = plan.Scheduler is not null
                ? SampleRunner.Begin(model, plan.Scheduler, request.Steps, count, options, plan.Init, report)
                : SampleRunner.Begin(model, plan.Solver!, plan.Sigmas, count, options, plan.Init, report, plan.InitIsImage);
            if (request.Condition is { } conditions)
            {
                var batchConditions = new float[(long)model.Batch * model.ConditionLength];
                int perCondition = request.NumSamples;
                sampling.BeforeBatch = (start, n) => ConditionedSampling.SetBatch(model, conditions, perCondition, start, n, batchConditions);
            }
            _openSessions++;
            string sampler = plan.Scheduler is null ? plan.Solver!.Name : $"{GenerationRequest.Diffusers} {plan.Scheduler.ClassName}";
            return new GenerationSession(this, model, sampling, request.CheckFinite, sampler, total, evaluations0,
                plan.Scheduler is null ? () => model.Denoiser.Evaluations : () => model.Network.Evaluations,
                plan.Sigmas.Length > 0 ? plan.Sigmas[0] : double.NaN);
        }
    }

    /// <summary>Sessions begun and not yet disposed: while there are any, the model stays as it is.</summary>
    private int _openSessions;

    /// <summary>The lock a session's steps take (the one <see cref="Generate"/> holds).</summary>
    internal object Gate => _gate;

    /// <summary>A session ended: the model may be recompiled again.</summary>
    internal void SessionEnded()
    {
        lock (_gate) _openSessions--;
    }

    /// <summary>A non-finite condition value is an error naming the condition and element (with the finite check on).</summary>
    private static void CheckConditionValues(float[] condition, DiffusionModel model, bool checkFinite)
    {
        if (!checkFinite) return;
        for (int i = 0; i < condition.Length; i++)
            if (!float.IsFinite(condition[i]))
                throw new ArgumentException($"the condition holds a non-finite value ({condition[i]}) in condition {i / model.ConditionLength}, element {i % model.ConditionLength}");
    }

    /// <summary>
    /// <see cref="Generate"/> on a thread-pool thread. The run is compute-bound: awaiting it frees the caller's thread (a
    /// UI), not the device.
    /// </summary>
    /// <inheritdoc cref="Generate" path="/exception"/>
    public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.Run(() => Generate(request, progress, cancellationToken), cancellationToken);
    }

    /// <summary>What a request runs: a solver over a σ grid, or a diffusers scheduler; and where it starts from.</summary>
    internal sealed record SamplingPlan(Solver? Solver, DiffusersScheduler? Scheduler, double[] Sigmas, float[]? Init, bool InitIsImage, int StepsPerBatch);

    /// <summary>Resolves the sampler of <paramref name="request"/> on <paramref name="model"/>, checking the settings that go with it.</summary>
    internal static SamplingPlan Plan(GenerationRequest request, DiffusionModel model)
    {
        var solver = request.Solver ?? (request.Sampler is null or GenerationRequest.Diffusers ? null : SamplerRegistry.Get(request.Sampler, GenerationRequest.Diffusers));
        bool useScheduler = solver is null && (request.Sampler == GenerationRequest.Diffusers || model.Schedule.ClassName is not null);
        if (useScheduler)
        {
            string how = request.Sampler == GenerationRequest.Diffusers ? "the diffusers scheduler" : $"the model's {model.Schedule.ClassName} (its default sampler; name a solver to use it)";
            if (request.SigmaGrid is not null) throw new ArgumentException($"the σ grid applies to solvers; {how} uses its own grid");
            if (request.InitImage is not null) throw new ArgumentException($"img2img runs with a solver, not {how}");
            var scheduler = DiffusersScheduler.FromConfig(model.Schedule, request.Eta);
            var init = request.InitNoise;
            return new SamplingPlan(null, scheduler, [], init, false, scheduler.Timesteps(request.Steps).Count);
        }
        if (request.Eta is not null) throw new ArgumentException("η (Eta) applies to a diffusers scheduler; set a solver's own with Solver.With(\"eta\", value)");
        solver ??= SamplerRegistry.Get(GenerationRequest.DefaultSampler);
        var sigmas = model.Sigmas(request.SigmaGrid ?? "karras", request.Steps);
        if (request.InitImage is not { } image) return new SamplingPlan(solver, null, sigmas, request.InitNoise, false, sigmas.Length - 1);
        sigmas = DiffusionModel.ForStrength(sigmas, request.Strength);
        int count = request.Condition is null ? request.NumSamples : request.NumSamples * (request.Condition.Length / Math.Max(1, model.ConditionLength));
        return new SamplingPlan(solver, null, sigmas, ModelRange(image, count, model), true, sigmas.Length - 1);
    }

    /// <summary>Images in [0, 1] as the model's [−1, 1], one image repeated for every sample.</summary>
    private static float[] ModelRange(float[] images, int count, DiffusionModel model)
    {
        int per = model.SampleLength;
        if (images.Length == per && count > 1)
        {
            var repeated = new float[(long)per * count];
            for (int k = 0; k < count; k++) images.CopyTo(repeated, k * per);
            images = repeated;
        }
        else if (images.Length != (long)per * count)
            throw new ShapeMismatchException($"the init images must hold {count} images of {Shape.Format(model.SampleShape)} (or one for all), found {images.Length} values");
        var mapped = new float[images.Length];
        for (int i = 0; i < images.Length; i++) mapped[i] = images[i] * 2 - 1;
        return mapped;
    }

    /// <summary>The limits every request must meet, whatever the model.</summary>
    private static void Validate(GenerationRequest r)
    {
        if (r.Steps < 1 || r.Steps > MaxSteps) throw new ArgumentException($"steps must be in [1, {MaxSteps}], found {r.Steps}");
        if (r.NumSamples < 1) throw new ArgumentException($"the number of samples must be ≥ 1, found {r.NumSamples}");
        if (r.FirstSampleIndex < 0) throw new ArgumentException($"the first sample index must be ≥ 0, found {r.FirstSampleIndex}");
        if (r.BatchSize < 1) throw new ArgumentException($"the batch size must be ≥ 1, found {r.BatchSize}");
        if (r.GuidanceScale is { } w && !(w >= 0 && double.IsFinite(w))) throw new ArgumentException($"the guidance scale must be a finite number ≥ 0, found {w}");
        if (r.ClassLabel is null && r.Condition is null && r.GuidanceScale is not null) throw new ArgumentException("guidance needs a class label or a condition image");
        if (r.ClassLabel is null && r.NullClassLabel is not null) throw new ArgumentException("a null class needs a class label");
        if (r.ClassLabel is not null && r.Condition is not null) throw new ArgumentException("a class label and a condition image together are not supported");
        if (r.GuidanceScale is null && r.NullClassLabel is not null) throw new ArgumentException("a null class applies with a guidance scale only");
        if (r.SigmaGrid is not (null or "karras" or "exponential" or "discrete")) throw new ArgumentException($"the σ grid must be karras, exponential or discrete, found '{r.SigmaGrid}'");
        if (!(r.Strength > 0 && r.Strength <= 1)) throw new ArgumentException($"the img2img strength must be in (0, 1], found {r.Strength}");
        if (r.InitImage is not null && r.InitNoise is not null) throw new ArgumentException("give initial noise or init images (img2img), not both");
    }

    /// <summary>Most steps a request may ask for.</summary>
    public const int MaxSteps = 100_000;

    /// <summary>Frees the compiled network, the backend when the pipeline opened it, and the denoiser when it owns it.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _model?.Dispose();
            if (_ownsDenoiser && _denoiser is IDisposable d) d.Dispose();
            if (_ownsBackend) Backend.Dispose();
        }
    }
}
