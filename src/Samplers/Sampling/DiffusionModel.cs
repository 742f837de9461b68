using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
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
/// A denoiser ready to sample from, opened from a diffusers U-Net folder (config.json, weights and
/// scheduler_config.json), a known topology with random weights, or a Gaussian-mixture spec (<c>gmm:spec.json</c>);
/// the network is compiled for a fixed batch size. Owns what it opened.
/// </summary>
public sealed class DiffusionModel : IDisposable
{
    private readonly IDisposable[] _owned;

    private DiffusionModel(string source, IDenoiser denoiser, SchedulerConfig schedule, int batch, params IDisposable[] owned)
    {
        Source = source;
        Schedule = schedule;
        Batch = batch;
        RawDenoiser = denoiser;
        Denoiser = schedule.Wrap(denoiser);
        _owned = owned;
        _network = new Lazy<IDiffusersModel>(() => denoiser as IDiffusersModel ?? new DenoiserModel(denoiser, schedule.CreateSchedule(), schedule.Prediction));
    }

    private readonly Lazy<IDiffusersModel> _network;

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
    public SchedulerConfig Schedule { get; }
    /// <summary>Samples per network call.</summary>
    public int Batch { get; }
    public Backend Backend => Denoiser.Backend;
    public int[] SampleShape => Denoiser.SampleShape;
    public int SampleLength => SampleShape.Aggregate(1, (a, b) => a * b);

    /// <summary>
    /// The σ grid of <paramref name="steps"/> steps, ending at 0: <c>karras</c> (ρ = 7), <c>exponential</c>, or <c>discrete</c>
    /// (the training timesteps spaced per the model's timestep_spacing).
    /// </summary>
    public double[] Sigmas(string grid, int steps) => grid switch
    {
        "karras" => SigmaGrids.Karras(steps, Denoiser.SigmaMin, Denoiser.SigmaMax),
        "exponential" => SigmaGrids.Exponential(steps, Denoiser.SigmaMin, Denoiser.SigmaMax),
        "discrete" => Schedule.CreateSchedule().InferenceSigmas(steps, Schedule.TimestepSpacing, Schedule.StepsOffset, Schedule.FinalSigmasType),
        _ => throw new ArgumentException($"--sigmas must be karras, exponential or discrete, found '{grid}'"),
    };

    /// <summary>
    /// The tail of <paramref name="sigmas"/> that img2img with <paramref name="strength"/> in (0, 1] runs (diffusers'
    /// rule: the last ⌈steps·strength⌉ steps; 1 = the whole grid, i.e. from pure noise).
    /// </summary>
    public static double[] ForStrength(double[] sigmas, double strength)
    {
        if (!(strength > 0 && strength <= 1)) throw new ArgumentOutOfRangeException(nameof(strength), $"--strength must be in (0, 1], found {strength}");
        int steps = sigmas.Length - 1, keep = Math.Max(1, (int)Math.Min(steps, Math.Round(steps * strength)));
        return sigmas[(steps - keep)..];
    }

    /// <summary>Opens <paramref name="source"/> on <paramref name="backend"/> for batches of <paramref name="batch"/> samples.</summary>
    public static DiffusionModel Open(string source, Backend backend, int batch, ScheduleOverrides? overrides = null, ClassConditioning? conditioning = null)
    {
        overrides ??= new ScheduleOverrides();
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), $"batch size must be ≥ 1, found {batch}");
        if (source.StartsWith("gmm:", StringComparison.Ordinal))
        {
            if (conditioning is not null) throw new ArgumentException($"{source}: class labels and guidance apply to class-conditional U-Nets only");
            var (gmm, spec) = GaussianMixtureSpec.Load(source[4..], backend);
            return new DiffusionModel(source, gmm, Apply(spec, overrides, source), batch, gmm);
        }
        var unet = KnownTopologies.ByName.TryGetValue(source, out var json)
            ? UNet2DModel.CreateRandom(UNetConfig.Parse(json, source), backend)
            : UNet2DModel.Load(source, backend);
        try
        {
            var schedulerFile = Path.Combine(source, "scheduler_config.json");
            var schedule = Apply(File.Exists(schedulerFile) ? SchedulerConfig.Load(schedulerFile) : new SchedulerConfig(), overrides, schedulerFile);
            if (unet.Config.IsClassConditional && conditioning is null)
                throw new ArgumentException($"{source}: the model is class-conditional; give the class to sample (--class-label)");
            if (!unet.Config.IsClassConditional && conditioning is not null)
                throw new ArgumentException($"{source}: the model is not class-conditional; --class-label and --guidance-scale do not apply");
            int size = unet.Config.SampleSize ?? throw new ArgumentException($"{source}: config.json has no sample_size");
            var plan = unet.Compile(batch, size, size);
            long[]? labels = conditioning is null ? null : Enumerable.Repeat(conditioning.Label, batch).ToArray();
            var denoiser = new UNetDenoiser(plan, schedule.CreateSchedule(), schedule.Prediction, [unet.Config.InChannels, size, size], labels);
            if (conditioning?.GuidanceScale is not { } scale) return new DiffusionModel(source, denoiser, schedule, batch, denoiser, unet);
            long nullLabel = conditioning.NullLabel ?? (unet.Config.NumClassEmbeds is { } n ? n - 1
                : throw new ArgumentException($"{source}: the model has no class table; give the null condition's label (--null-class)"));
            var guided = new GuidedDenoiser(denoiser, labels!, Enumerable.Repeat(nullLabel, batch).ToArray(), scale);
            return new DiffusionModel(source, guided, schedule, batch, guided, denoiser, unet);
        }
        catch
        {
            unet.Dispose();
            throw;
        }
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

    public void Dispose()
    {
        foreach (var o in _owned) o.Dispose();
        if (_network.IsValueCreated && _network.Value is DenoiserModel adapter) adapter.Dispose();
    }
}
