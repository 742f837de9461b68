using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels;

/// <summary>
/// What <see cref="DiffusionPipeline.Generate"/> draws: how many samples, with which sampler and settings, from which
/// noise or images. Defaults give the model's own diffusers scheduler (when its scheduler_config.json names one, else
/// DPM-Solver++(2M) SDE on a Karras grid), 20 steps, seed 0, one sample.
/// </summary>
/// <remarks>
/// Thread safety: an immutable record (change it with <c>with</c>); the arrays it holds are read, never written, by a run,
/// so one request may serve runs on several threads while nobody writes them.
/// </remarks>
public sealed record GenerationRequest
{
    /// <summary>The engine sampler that runs when no <see cref="Sampler"/> is named and the model's scheduler config names no class.</summary>
    public const string DefaultSampler = "dpmpp_2m_sde";

    /// <summary>The <see cref="Sampler"/> value that runs the class the model's scheduler_config.json names, as diffusers runs it.</summary>
    public const string Diffusers = "diffusers";

    /// <summary>
    /// A solver by registry name (<c>SamplerRegistry.Solvers</c>: <c>euler</c>, <c>heun</c>, <c>dpmpp_2m</c>, <c>unipc</c>, …),
    /// <see cref="Diffusers"/>, or null for the model's default. <see cref="Solver"/> takes precedence.
    /// </summary>
    public string? Sampler { get; init; }

    /// <summary>A configured solver instance (e.g. <c>new Heun { SChurn = 40 }</c>); overrides <see cref="Sampler"/>.</summary>
    public Solver? Solver { get; init; }

    /// <summary>Solver steps (or the diffusers scheduler's inference steps).</summary>
    public int Steps { get; init; } = 20;

    /// <summary>Noise seed: sample n of a seed is the same for any batch size.</summary>
    public ulong Seed { get; init; }

    /// <summary>Samples to draw; with a <see cref="Condition"/>, samples per condition image (an ensemble).</summary>
    public int NumSamples { get; init; } = 1;

    /// <summary>
    /// The condition images of an image-conditioned model (in_channels − out_channels condition channels), [N_c,
    /// ..condition shape] flattened, in the units the network was trained on (it sees them unscaled). Each gets
    /// <see cref="NumSamples"/> samples: the result holds N_c × NumSamples samples, condition-major (sample s belongs
    /// to condition s / NumSamples). With <see cref="GuidanceScale"/>, classifier-free guidance by a zero condition.
    /// </summary>
    public float[]? Condition { get; init; }

    /// <summary>
    /// Index of the first sample in the whole run: the samples drawn are [FirstSampleIndex, FirstSampleIndex + NumSamples)
    /// of <see cref="Seed"/>, each identical to the same sample of one longer run (noise is keyed by seed and sample index).
    /// </summary>
    public long FirstSampleIndex { get; init; }

    /// <summary>Samples per network call (capped at <see cref="NumSamples"/>); the samples do not depend on it.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>The σ grid of a solver: <c>karras</c> (default), <c>exponential</c>, or <c>discrete</c> (the training timesteps spaced per the model's timestep_spacing).</summary>
    public string? SigmaGrid { get; init; }

    /// <summary>η of the diffusers scheduler (DDIM and the classes that take one); a solver's η is one of its settings instead.</summary>
    public double? Eta { get; init; }

    /// <summary>The class to draw from a class-conditional model.</summary>
    public long? ClassLabel { get; init; }

    /// <summary>Classifier-free guidance scale w (1 = plain conditional); needs <see cref="ClassLabel"/> or <see cref="Condition"/>.</summary>
    public double? GuidanceScale { get; init; }

    /// <summary>The label of the dropped condition for guidance (default: the class table's last row).</summary>
    public long? NullClassLabel { get; init; }

    /// <summary>
    /// img2img: images in [0, 1] to start from, [<see cref="NumSamples"/>, ..sample shape] flattened, or one image used
    /// for every sample; they are mapped to the model's [−1, 1] and noised to the grid's level at <see cref="Strength"/>.
    /// Runs with a solver, not a diffusers scheduler.
    /// </summary>
    public float[]? InitImage { get; init; }

    /// <summary>img2img: the fraction of the σ grid to run from the noised <see cref="InitImage"/> (1 = from pure noise).</summary>
    public double Strength { get; init; } = 0.6;

    /// <summary>x_T as standard normal noise [<see cref="NumSamples"/>, ..sample shape] flattened, instead of drawing it from <see cref="Seed"/>.</summary>
    public float[]? InitNoise { get; init; }

    /// <summary>Overrides of the model's scheduler_config.json (beta schedule, prediction type, clip_sample).</summary>
    public ScheduleOverrides? ScheduleOverrides { get; init; }

    /// <summary>Stop with an error naming the step when x turns NaN or Inf (and refuse non-finite initial values).</summary>
    public bool CheckFinite { get; init; } = true;

    /// <summary>Called after every step of every batch with x and x̂₀; it may edit x or stop the run (<see cref="StepState"/>).</summary>
    public Action<StepState>? OnStep { get; init; }
}
