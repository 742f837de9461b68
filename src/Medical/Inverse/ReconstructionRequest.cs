using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>The inverse problems <see cref="Reconstruction"/> simulates and solves.</summary>
public enum InverseTask
{
    /// <summary>Cartesian MRI: k-space rows under a mask.</summary>
    Mri,
    /// <summary>Inpainting: known pixels under a mask.</summary>
    Inpaint,
    /// <summary>Super-resolution: box downsampling.</summary>
    SuperResolution,
    /// <summary>Denoising: the identity plus Gaussian noise.</summary>
    Denoise,
}

/// <summary>The diffusion-prior methods.</summary>
public enum ReconstructionMethod
{
    /// <summary>RePaint for inpainting, SDEdit for denoising, DDNM otherwise.</summary>
    Auto,
    /// <summary>DDNM: any solver on the data-consistent denoiser (<see cref="DdnmSampler"/>).</summary>
    Ddnm,
    /// <summary>DDNM with time travel (<see cref="TimeTravel"/>).</summary>
    TimeTravel,
    /// <summary>Score-MRI predictor–corrector with data consistency (<see cref="ScoreMriPc"/>).</summary>
    PredictorCorrector,
    /// <summary>RePaint resampling (inpainting only).</summary>
    RePaint,
    /// <summary>SDEdit (denoising only).</summary>
    SdEdit,
}

/// <summary>
/// What to reconstruct and how: the task and its measurement settings, the method and its sampling settings. Noise
/// levels are in image units ([0, 1] images; the model sees 2× that). Checked by <see cref="Validate"/>.
/// </summary>
public sealed record ReconstructionRequest
{
    /// <summary>The inverse problem.</summary>
    public InverseTask Task { get; init; } = InverseTask.Mri;
    /// <summary>The method (Auto picks per task).</summary>
    public ReconstructionMethod Method { get; init; } = ReconstructionMethod.Auto;

    /// <summary>MRI: a 0/1 k-space mask [H, W] (FFT layout, DC at [0, 0]); null builds one from the settings below.</summary>
    public float[]? KspaceMask { get; init; }
    /// <summary>MRI without a mask: the acceleration (exactly H/acceleration rows, see <see cref="Operators.MriMasks"/>).</summary>
    public int Acceleration { get; init; } = 4;
    /// <summary>MRI without a mask: "random" or "equispaced".</summary>
    public string MaskType { get; init; } = "random";
    /// <summary>MRI without a mask: the fully sampled centre fraction (null: fastMRI's 0.08 at 4×, 0.04 at 8×).</summary>
    public double? CenterFraction { get; init; }
    /// <summary>MRI without a mask: the mask seed (null: <see cref="Seed"/>).</summary>
    public ulong? MaskSeed { get; init; }

    /// <summary>Inpainting: known-pixel masks [N, 1, H, W] (1 = known); null hides a centred square of <see cref="BoxArea"/>.</summary>
    public float[]? KnownMask { get; init; }
    /// <summary>Inpainting without a mask: the fraction of the area hidden, in (0, 1).</summary>
    public double BoxArea { get; init; } = 0.25;

    /// <summary>Super-resolution factor (2 or 4).</summary>
    public int Factor { get; init; } = 4;

    /// <summary>Measurement noise std in image units (null: 0.1 for denoising, else 0).</summary>
    public double? NoiseSigma { get; init; }

    /// <summary>The solver of DDNM and SDEdit (null: ddpm).</summary>
    public Solver? Solver { get; init; }
    /// <summary>Steps of the σ grid (Karras, ρ = 7).</summary>
    public int Steps { get; init; } = 50;
    /// <summary>RePaint and time travel: steps per jump.</summary>
    public int JumpLength { get; init; } = 10;
    /// <summary>RePaint and time travel: passes over each jump (1 = none).</summary>
    public int JumpCount { get; init; } = 2;
    /// <summary>Predictor–corrector: Langevin signal-to-noise ratio.</summary>
    public double Snr { get; init; } = 0.16;
    /// <summary>Predictor–corrector: corrector steps per predictor step.</summary>
    public int CorrectorSteps { get; init; } = 1;
    /// <summary>Posterior samples K per image: the reconstruction is their mean, with a per-pixel std when K ≥ 2.</summary>
    public int PosteriorSamples { get; init; } = 1;
    /// <summary>Seed of the mask (unless <see cref="MaskSeed"/>), the measurement noise and the sampler.</summary>
    public ulong Seed { get; init; }
    /// <summary>Stops the run.</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>
    /// Stop with a <see cref="NumericalInstabilityException"/> when a sampling step produces NaN or Inf (the default);
    /// off lets non-finite values run through to the result.
    /// </summary>
    public bool CheckFinite { get; init; } = true;

    /// <summary>The method Auto resolves to for <see cref="Task"/>.</summary>
    public ReconstructionMethod ResolvedMethod => Method != ReconstructionMethod.Auto ? Method : Task switch
    {
        InverseTask.Inpaint => ReconstructionMethod.RePaint,
        InverseTask.Denoise => ReconstructionMethod.SdEdit,
        _ => ReconstructionMethod.Ddnm,
    };

    /// <summary>The measurement noise std in image units.</summary>
    public double ResolvedNoiseSigma => NoiseSigma ?? (Task == InverseTask.Denoise ? 0.1 : 0);

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting for anything out of range.</summary>
    public ReconstructionRequest Validate()
    {
        var method = ResolvedMethod;
        if (method == ReconstructionMethod.RePaint && Task != InverseTask.Inpaint) throw new ArgumentException($"reconstruction: RePaint is for inpainting, not {Task}");
        if (method == ReconstructionMethod.SdEdit && Task != InverseTask.Denoise) throw new ArgumentException($"reconstruction: SDEdit is for denoising, not {Task}");
        double noise = ResolvedNoiseSigma;
        if (!(noise >= 0) || !double.IsFinite(noise) || noise > 10) throw new ArgumentException($"reconstruction: the noise σ must be in [0, 10], found {noise}");
        if (Task == InverseTask.Denoise && noise == 0) throw new ArgumentException("reconstruction: denoising needs a noise σ > 0");
        if (Task == InverseTask.Mri && KspaceMask is null && Acceleration is < 2 or > 64) throw new ArgumentException($"reconstruction: the MRI acceleration must be in [2, 64], found {Acceleration}");
        if (Task == InverseTask.Mri && MaskType is not ("random" or "equispaced")) throw new ArgumentException($"reconstruction: the MRI mask type must be random or equispaced, found '{MaskType}'");
        if (CenterFraction is { } c && !(c > 0 && c < 1)) throw new ArgumentException($"reconstruction: the centre fraction must be in (0, 1), found {c}");
        if (Task == InverseTask.Inpaint && KnownMask is null && !(BoxArea > 0 && BoxArea < 1)) throw new ArgumentException($"reconstruction: the hidden box area must be in (0, 1), found {BoxArea}");
        if (Task == InverseTask.SuperResolution && Factor is not (2 or 4)) throw new ArgumentException($"reconstruction: the super-resolution factor must be 2 or 4, found {Factor}");
        if (KspaceMask is not null && Task != InverseTask.Mri) throw new ArgumentException($"reconstruction: a k-space mask applies to MRI, not {Task}");
        if (KnownMask is not null && Task != InverseTask.Inpaint) throw new ArgumentException($"reconstruction: a known-pixel mask applies to inpainting, not {Task}");
        if (Steps is < 1 or > 100_000) throw new ArgumentException($"reconstruction: steps must be in [1, 100000], found {Steps}");
        if (JumpLength is < 1 or > 100_000) throw new ArgumentException($"reconstruction: the jump length must be in [1, 100000], found {JumpLength}");
        if (JumpCount is < 1 or > 100) throw new ArgumentException($"reconstruction: the jump count must be in [1, 100], found {JumpCount}");
        if (!(Snr > 0 && Snr <= 10)) throw new ArgumentException($"reconstruction: the Langevin snr must be in (0, 10], found {Snr}");
        if (CorrectorSteps is < 0 or > 100) throw new ArgumentException($"reconstruction: corrector steps must be in [0, 100], found {CorrectorSteps}");
        if (PosteriorSamples is < 1 or > 1000) throw new ArgumentException($"reconstruction: posterior samples must be in [1, 1000], found {PosteriorSamples}");
        return this;
    }
}
