using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Denoisers;

/// <summary>
/// diffusers' <c>clip_sample</c>: every x̂₀ the inner denoiser returns is clamped to [−range, range] before the
/// solver uses it (for models trained on data in that range).
/// </summary>
/// <remarks>Thread safety: one caller at a time (see <see cref="IDenoiser"/>).</remarks>
public sealed class ClippedDenoiser(IDenoiser inner, float range) : IDenoiser
{
    /// <inheritdoc/>
    public Backend Backend => inner.Backend;
    /// <inheritdoc/>
    public int[] SampleShape => inner.SampleShape;
    /// <inheritdoc/>
    public double SigmaMin => inner.SigmaMin;
    /// <inheritdoc/>
    public double SigmaMax => inner.SigmaMax;
    /// <inheritdoc/>
    public int Evaluations => inner.Evaluations;
    /// <summary>The bound r: x̂₀ is clamped to [−r, r] (<c>clip_sample_range</c>, &gt; 0).</summary>
    public float Range { get; } = range > 0 ? range : throw new ArgumentOutOfRangeException(nameof(range), $"clip_sample_range must be > 0, found {range}");

    /// <inheritdoc/>
    public void Denoise(Tensor x, double sigma, Tensor denoised)
    {
        inner.Denoise(x, sigma, denoised);
        Backend.Clamp(denoised, -Range, Range, denoised);
    }
}
