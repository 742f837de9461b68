using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers.Conditioning;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Sampling;

/// <summary>Command-line style overrides of a model folder's scheduler_config.json.</summary>
public sealed record ScheduleOverrides(string? BetaSchedule = null, string? PredictionType = null, bool? ClipSample = null);

/// <summary>
/// The class to sample from a class-conditional model, and optionally classifier-free guidance: scale w and the label
/// the model was trained with for a dropped condition (default: the last row of its class table).
/// </summary>
public sealed record ClassConditioning(long Label, double? GuidanceScale = null, long? NullLabel = null);

/// <summary>
/// Opens an image-conditioned model (a U-Net with more input than output channels, the rest being the condition image,
/// SR3/Palette style) for sampling with a condition per sample (<see cref="DiffusionModel.SetCondition"/>), optionally
/// with classifier-free guidance of scale w by a zero ("null") condition.
/// </summary>
public sealed record ImageConditioning(double? GuidanceScale = null);

/// <summary>
/// A denoiser ready to sample from, opened from a diffusers U-Net folder (config.json, weights and
/// scheduler_config.json), a known topology with random weights, or a Gaussian-mixture spec (<c>gmm:spec.json</c>);
/// the network is compiled for a fixed batch size. Owns what it opened.
/// </summary>
/// <remarks>
/// <para>Thread safety: a model holds one compiled network (its input, output and activation buffers), so it serves
/// one sampling run at a time. Each <c>SampleRunner.Draw</c> overload takes <see cref="Exclusive"/> for its whole run, so any
/// number of threads may draw from one model: their runs are serialized and each gets exactly the samples it would
/// get alone. Code that calls <see cref="Denoiser"/> itself must hold <see cref="Exclusive"/> for as long as it uses it.
/// For parallel runs, open one model per thread (on a backend that <see cref="Backend.SupportsConcurrentCalls"/>).</para>
/// <para>Disposal must not race with use; afterwards every call is an <see cref="ObjectDisposedException"/>.</para>
/// </remarks>
public sealed class DiffusionModel : IDisposable
{
    private readonly IDisposable[] _owned;
    private readonly object _gate = new();
    private bool _disposed;

    private DiffusionModel(string source, IDenoiser denoiser, SchedulerConfig schedule, int batch, params IDisposable[] owned)
        : this(source, denoiser, schedule, batch, null, owned)
    {
    }

    private DiffusionModel(string source, IDenoiser denoiser, SchedulerConfig schedule, int batch, Tensor? condition, params IDisposable[] owned)
    {
        _condition = condition;
        Source = source;
        Schedule = schedule;
        Batch = batch;
        RawDenoiser = denoiser;
        Denoiser = schedule.Wrap(denoiser);
        _owned = owned;
        _network = new Lazy<IDiffusersModel>(() => denoiser as IDiffusersModel ?? new DenoiserModel(denoiser, schedule.CreateSchedule(), schedule.Prediction));
    }

    private readonly Lazy<IDiffusersModel> _network;
    // The device condition [Batch, ..ConditionShape] of an image-conditioned model (null otherwise): the conditioned
    // denoiser reads it at every call, SetCondition refills it between batches.
    private readonly Tensor? _condition;

    /// <summary>Shape of one condition image [C_cond, H, W] of an image-conditioned model; null when the model takes none.</summary>
    public int[]? ConditionShape => _condition is null ? null : _condition.Shape.ToArray()[1..];

    /// <summary>Values per condition image (0 when the model takes none).</summary>
    public int ConditionLength => ConditionShape?.Aggregate(1, (a, b) => a * b) ?? 0;

    /// <summary>
    /// Sets the conditions of the next batch: <paramref name="conditions"/> holds up to <see cref="Batch"/> condition
    /// images [n, ..<see cref="ConditionShape"/>] flattened, in the units the network was trained on (it sees them
    /// unscaled); batch slots beyond n get zeros. Hold <see cref="Exclusive"/> across setting and sampling when other
    /// threads share the model.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model is not image-conditioned.</exception>
    /// <exception cref="ShapeMismatchException">The values are not a whole number of conditions, or more than a batch.</exception>
    public void SetCondition(ReadOnlySpan<float> conditions)
    {
        ThrowIfDisposed();
        if (_condition is null) throw new InvalidOperationException($"{Source}: the model is not image-conditioned; it takes no condition");
        int per = ConditionLength;
        if (conditions.Length % per != 0 || conditions.Length / per > Batch)
            throw new ShapeMismatchException($"{Source}: a batch's conditions must be up to {Batch} images of {Shape.Format(ConditionShape!)} ({per} values each), found {conditions.Length} values");
        var padded = new float[(long)Batch * per];
        conditions.CopyTo(padded);
        Backend.CopyFromHost(padded, _condition);
        ConditionWrites++;
    }

    /// <summary>How many times <see cref="SetCondition"/> has run: a stepped run whose conditions another run replaced between its steps sees it change.</summary>
    internal long ConditionWrites { get; private set; }

    /// <summary>
    /// The network as diffusers' schedulers call it (<see cref="DiffusersScheduler"/>): the raw U-Net (guided on its
    /// output when guidance is on), or an analytic model seen through its σ at each timestep.
    /// </summary>
    public IDiffusersModel Network => _network.Value;

    /// <summary>The path or name the model came from.</summary>
    public string Source { get; }
    /// <summary>The denoiser solvers use (with dynamic thresholding or clip_sample applied when the schedule asks for it).</summary>
    public IDenoiser Denoiser { get; }
    /// <summary>The denoiser without clipping.</summary>
    public IDenoiser RawDenoiser { get; }
    /// <summary>The schedule the model was trained with (its <c>scheduler_config.json</c>, with overrides applied).</summary>
    public SchedulerConfig Schedule { get; }
    /// <summary>Samples per network call.</summary>
    public int Batch { get; }
    /// <inheritdoc/>
    public Backend Backend => Denoiser.Backend;
    /// <inheritdoc/>
    public int[] SampleShape => Denoiser.SampleShape;
    /// <summary>Elements per sample (the product of <see cref="SampleShape"/>).</summary>
    public int SampleLength => SampleShape.Aggregate(1, (a, b) => a * b);

    /// <summary>
    /// The σ grid of <paramref name="steps"/> steps, ending at 0: <c>karras</c> (ρ = 7), <c>exponential</c>, or <c>discrete</c>
    /// (the training timesteps spaced per the model's timestep_spacing).
    /// </summary>
    public double[] Sigmas(string grid, int steps)
    {
        ThrowIfDisposed();
        return grid switch
        {
            "karras" => SigmaGrids.Karras(steps, Denoiser.SigmaMin, Denoiser.SigmaMax),
            "exponential" => SigmaGrids.Exponential(steps, Denoiser.SigmaMin, Denoiser.SigmaMax),
            "discrete" => Schedule.CreateSchedule().InferenceSigmas(steps, Schedule.TimestepSpacing, Schedule.StepsOffset, Schedule.FinalSigmasType),
            _ => throw new ArgumentException($"the σ grid must be karras, exponential or discrete, found '{grid}'", nameof(grid)),
        };
    }

    /// <summary>
    /// The tail of <paramref name="sigmas"/> that img2img with <paramref name="strength"/> in (0, 1] runs (diffusers'
    /// rule: the last ⌈steps·strength⌉ steps; 1 = the whole grid, i.e. from pure noise).
    /// </summary>
    public static double[] ForStrength(double[] sigmas, double strength)
    {
        if (!(strength > 0 && strength <= 1)) throw new ArgumentOutOfRangeException(nameof(strength), $"img2img strength must be in (0, 1], found {strength}");
        int steps = sigmas.Length - 1, keep = Math.Max(1, (int)Math.Min(steps, Math.Round(steps * strength)));
        return sigmas[(steps - keep)..];
    }

    /// <summary>
    /// Exclusive use of this model (and, where the backend does not take concurrent calls, of its backend) until the
    /// returned handle is disposed: hold it around any direct use of <see cref="Denoiser"/>. Re-entrant on one thread.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The model has been disposed.</exception>
    public IDisposable Exclusive()
    {
        ThrowIfDisposed();
        var backend = Backend;
        var gates = backend.SupportsConcurrentCalls ? new[] { _gate } : [_gate, backend];
        return new Lease(gates);
    }

    /// <summary>Holds monitors in order and releases them in reverse.</summary>
    private sealed class Lease : IDisposable
    {
        private readonly object[] _gates;
        private int _held;

        public Lease(object[] gates)
        {
            _gates = gates;
            try
            {
                for (; _held < gates.Length; _held++) Monitor.Enter(gates[_held]);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            while (_held > 0) Monitor.Exit(_gates[--_held]);
        }
    }

    /// <summary>
    /// A model around any denoiser (a C# function, another network, a wrapped model): every solver, diffusers scheduler
    /// (through the denoiser's x̂₀ seen as the network output the <paramref name="schedule"/>'s prediction type names) and
    /// <see cref="SampleRunner"/> then run on it. <paramref name="schedule"/> (default: diffusers' DDPM defaults, 1000 linear
    /// β) gives the timesteps, the discrete σ grid and clip_sample/thresholding; x is allocated [<paramref name="batch"/>,
    /// ..<see cref="IDenoiser.SampleShape"/>].
    /// </summary>
    /// <param name="denoiser">The denoiser; disposed with the model when <paramref name="owns"/> and it is <see cref="IDisposable"/>.</param>
    /// <param name="batch">Samples per denoiser call.</param>
    /// <param name="schedule">The scheduler config the model runs with.</param>
    /// <param name="source">A name for messages.</param>
    /// <param name="owns">Whether disposing the model disposes the denoiser.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The schedule is invalid or the denoiser's sample shape is empty.</exception>
    /// <exception cref="ModelFormatException">The schedule gives unusable noise levels (β outside (0, 1)).</exception>
    public static DiffusionModel FromDenoiser(IDenoiser denoiser, int batch, SchedulerConfig? schedule = null, string source = "custom denoiser", bool owns = false)
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), $"batch size must be ≥ 1, found {batch}");
        if (denoiser.SampleShape is not { Length: > 0 } shape || shape.Any(d => d < 1))
            throw new ArgumentException($"{source}: the denoiser's sample shape must be non-empty with positive sizes, found {Shape.Format(denoiser.SampleShape ?? [])}", nameof(denoiser));
        schedule ??= new SchedulerConfig();
        schedule.Validate(source, commandLine: true);
        RequireUsableSchedule(schedule.CreateSchedule(), source);
        return new DiffusionModel(source, denoiser, schedule, batch, owns && denoiser is IDisposable d ? [d] : []);
    }

    /// <summary>Opens <paramref name="source"/> on <paramref name="backend"/> for batches of <paramref name="batch"/> samples.</summary>
    /// <exception cref="ModelFormatException">A file of the model is malformed or holds an unsupported or out-of-range value (the message names it).</exception>
    /// <exception cref="FileNotFoundException">A file of the model is missing.</exception>
    /// <exception cref="DirectoryNotFoundException">The model folder does not exist.</exception>
    /// <exception cref="IOException">A file is not a regular file (a FIFO, a device) or cannot be read.</exception>
    /// <exception cref="InsufficientMemoryException">The model or its network at this batch size cannot fit in memory.</exception>
    /// <exception cref="ArgumentException">The overrides or the conditioning do not fit the model (an image-conditioned model needs <paramref name="image"/>, others refuse it).</exception>
    public static DiffusionModel Open(string source, Backend backend, int batch, ScheduleOverrides? overrides = null, ClassConditioning? conditioning = null,
        ImageConditioning? image = null)
    {
        overrides ??= new ScheduleOverrides();
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), $"batch size must be ≥ 1, found {batch}");
        if (source.StartsWith("gmm:", StringComparison.Ordinal))
        {
            if (conditioning is not null) throw new ArgumentException($"{source}: class labels and guidance apply to class-conditional U-Nets only");
            if (image is not null) throw new ArgumentException($"{source}: a Gaussian mixture is not image-conditioned; it takes no condition image");
            var (gmm, spec) = GaussianMixtureSpec.Load(source[4..], backend);
            try
            {
                RequireUsableSchedule(spec.CreateSchedule(), source[4..]);
                return new DiffusionModel(source, gmm, Apply(spec, overrides, source), batch, gmm);
            }
            catch
            {
                gmm.Dispose();
                throw;
            }
        }
        var unet = KnownTopologies.ByName.TryGetValue(source, out var json)
            ? UNet2DModel.CreateRandom(UNetConfig.Parse(json, source), backend)
            : UNet2DModel.Load(source, backend);
        try
        {
            var schedulerFile = Path.Combine(source, "scheduler_config.json");
            var schedule = Apply(File.Exists(schedulerFile) ? SchedulerConfig.Load(schedulerFile) : new SchedulerConfig(), overrides, schedulerFile);
            if (unet.Config.IsClassConditional && conditioning is null)
                throw new ArgumentException($"{source}: the model is class-conditional; give the class to sample ({nameof(ClassConditioning)}.{nameof(ClassConditioning.Label)})", nameof(conditioning));
            if (!unet.Config.IsClassConditional && conditioning is not null)
                throw new ArgumentException($"{source}: the model is not class-conditional; {nameof(ClassConditioning)} does not apply", nameof(conditioning));
            var discrete = schedule.CreateSchedule();
            RequireUsableSchedule(discrete, schedulerFile);
            var configFile = Path.Combine(source, "config.json");
            int size = unet.Config.SampleSize ?? throw new ModelFormatException($"{configFile}: key 'sample_size' is missing or null; sampling needs the image size");
            if (size % unet.Config.SpatialMultiple != 0)
                throw new ModelFormatException($"{configFile}: key 'sample_size' {size} is not a multiple of {unet.Config.SpatialMultiple} (2^(levels−1) for {unet.Config.BlockOutChannels.Length} levels)");
            int conditionChannels = unet.Config.InChannels - unet.Config.OutChannels;
            if (conditionChannels > 0 && image is null)
                throw new ArgumentException($"{source}: the model is image-conditioned ({unet.Config.InChannels} input channels for {unet.Config.OutChannels} output channels: " +
                    $"{conditionChannels} condition channels); it samples with a condition image per sample");
            if (conditionChannels <= 0 && image is not null)
                throw new ArgumentException($"{source}: the model is not image-conditioned (in_channels {unet.Config.InChannels}, out_channels {unet.Config.OutChannels}); it takes no condition image");
            if (image is not null && conditioning is not null)
                throw new ArgumentException($"{source}: a condition image and a class label together are not supported");
            var plan = unet.Compile(batch, size, size);
            if (image is not null) return OpenImageConditioned(source, unet, plan, discrete, schedule, batch, size, image);
            long[]? labels = conditioning is null ? null : Enumerable.Repeat(conditioning.Label, batch).ToArray();
            var denoiser = new UNetDenoiser(plan, discrete, schedule.Prediction, [unet.Config.InChannels, size, size], labels);
            if (conditioning?.GuidanceScale is not { } scale) return new DiffusionModel(source, denoiser, schedule, batch, denoiser, unet);
            long nullLabel = conditioning.NullLabel ?? (unet.Config.NumClassEmbeds is { } n ? n - 1
                : throw new ArgumentException($"{source}: the model has no class table; give the null condition's label ({nameof(ClassConditioning)}.{nameof(ClassConditioning.NullLabel)})", nameof(conditioning)));
            var guided = new GuidedDenoiser(denoiser, labels!, Enumerable.Repeat(nullLabel, batch).ToArray(), scale);
            return new DiffusionModel(source, guided, schedule, batch, guided, denoiser, unet);
        }
        catch
        {
            unet.Dispose();
            throw;
        }
    }

    /// <summary>The U-Net as a <see cref="ConditionedDenoiser"/> over a device condition the model owns (zeros until set).</summary>
    private static DiffusionModel OpenImageConditioned(string source, UNet2DModel unet, UNetPlan plan, DiscreteSchedule discrete, SchedulerConfig schedule, int batch, int size,
        ImageConditioning image)
    {
        var denoiser = new UNetDenoiser(plan, discrete, schedule.Prediction, [unet.Config.OutChannels, size, size]);
        Tensor? condition = null;
        try
        {
            condition = plan.Sample.Backend.Allocate(new Shape([batch, .. denoiser.ConditionShape]));
            var conditioned = new ConditionedDenoiser(denoiser, condition, image.GuidanceScale);
            return new DiffusionModel(source, conditioned, schedule, batch, condition, conditioned, condition, denoiser, unet);
        }
        catch
        {
            condition?.Dispose();
            denoiser.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A schedule solvers can run on: σ positive, finite and strictly increasing over the training timesteps (a β of 0
    /// gives σ = 0 and repeated σ, which the σ→t interpolation divides by).
    /// </summary>
    private static void RequireUsableSchedule(DiscreteSchedule schedule, string source)
    {
        var sigmas = schedule.Sigmas;
        for (int t = 0; t < sigmas.Length; t++)
            if (!(double.IsFinite(sigmas[t]) && sigmas[t] > 0 && (t == 0 || sigmas[t] > sigmas[t - 1])))
                throw new ModelFormatException($"{source}: the noise schedule is unusable: σ at timestep {t} is {sigmas[t]:G4}{(t > 0 ? $" after {sigmas[t - 1]:G4}" : "")} (beta_start, beta_end and beta_schedule must give 0 < β < 1)");
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(DiffusionModel), $"the model {Source} has been disposed");
    }

    private static SchedulerConfig Apply(SchedulerConfig config, ScheduleOverrides o, string source)
    {
        config = config with
        {
            BetaSchedule = o.BetaSchedule ?? config.BetaSchedule,
            PredictionType = o.PredictionType ?? config.PredictionType,
            ClipSample = o.ClipSample ?? config.ClipSample,
        };
        bool overridden = o != new ScheduleOverrides();
        config.Validate(overridden ? "command line" : source, commandLine: overridden);
        return config;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var o in _owned) o.Dispose();
            if (_network.IsValueCreated && _network.Value is DenoiserModel adapter) adapter.Dispose();
        }
    }
}
