using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Denoisers;

/// <summary>
/// A denoiser in the σ-parameterization solvers work in (Karras et al. 2022): the noisy sample is x = x₀ + σ·ε,
/// and the denoiser returns its estimate of x₀. VP models are wrapped so that x = x_t / α_t.
/// </summary>
/// <remarks>Thread safety: denoisers hold scratch buffers (and a network's plan), so one instance serves one caller at a time; <c>DiffusionModel.Exclusive</c> arranges that for a model's denoiser.</remarks>
public interface IDenoiser
{
    /// <summary>The backend the denoiser's tensors live on; x and x̂₀ must be on it.</summary>
    Backend Backend { get; }
    /// <summary>Shape of one sample, e.g. [C, H, W].</summary>
    int[] SampleShape { get; }
    /// <summary>Smallest noise level the model knows.</summary>
    double SigmaMin { get; }
    /// <summary>Largest noise level the model knows (where sampling starts).</summary>
    double SigmaMax { get; }
    /// <summary>Network evaluations so far (NFE).</summary>
    int Evaluations { get; }

    /// <summary>Writes x̂₀ for the batch <paramref name="x"/> at noise level <paramref name="sigma"/> (shared by the batch).</summary>
    void Denoise(Tensor x, double sigma, Tensor denoised);
}
