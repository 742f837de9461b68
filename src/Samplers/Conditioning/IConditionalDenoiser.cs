using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Conditioning;

/// <summary>
/// A denoiser that also sees a fixed conditioning image per sample (SR3/Palette-style image-conditioned diffusion: the
/// network input is the noisy target concatenated with the condition along the channel axis). Same σ-parameterization
/// as <see cref="Denoisers.IDenoiser"/>; <see cref="ConditionedDenoiser"/> fixes the condition and makes it an
/// <see cref="Denoisers.IDenoiser"/> that every solver runs.
/// </summary>
/// <remarks>Thread safety: one caller at a time (see <see cref="Denoisers.IDenoiser"/>).</remarks>
public interface IConditionalDenoiser
{
    /// <summary>The backend the tensors live on.</summary>
    Backend Backend { get; }
    /// <summary>Shape of one sample (the target), e.g. [C, H, W].</summary>
    int[] SampleShape { get; }
    /// <summary>Shape of one condition, e.g. [C_cond, H, W].</summary>
    int[] ConditionShape { get; }
    /// <summary>Smallest noise level the model knows.</summary>
    double SigmaMin { get; }
    /// <summary>Largest noise level the model knows.</summary>
    double SigmaMax { get; }
    /// <summary>Network evaluations so far (NFE).</summary>
    int Evaluations { get; }

    /// <summary>Writes x̂₀ for the batch <paramref name="x"/> given <paramref name="condition"/> (one per sample) at noise level <paramref name="sigma"/>.</summary>
    void Denoise(Tensor x, Tensor condition, double sigma, Tensor denoised);
}
