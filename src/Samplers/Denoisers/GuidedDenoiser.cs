using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Diffusers;

namespace DiffusionKernels.Samplers.Denoisers;

/// <summary>
/// Classifier-free guidance (Ho &amp; Salimans 2022) for a class-conditional U-Net: two evaluations per call, one with
/// the wanted labels and one with the "null" labels the model was trained with for dropped conditions, combined as
/// x̂₀ = x̂₀(∅) + w·(x̂₀(c) − x̂₀(∅)) (the same as guiding ε̂, since x̂₀ is affine in ε̂ at fixed x and σ).
/// w = 1 is plain conditional sampling, w = 0 unconditional, w &gt; 1 stronger adherence to the class. As an
/// <see cref="IDiffusersModel"/> it guides the raw output as diffusers' pipelines do: out = out(∅) + w·(out(c) − out(∅)).
/// </summary>
/// <remarks>Thread safety: one caller at a time (see <see cref="IDenoiser"/>).</remarks>
public sealed class GuidedDenoiser : IDenoiser, IDiffusersModel, IDisposable
{
    private readonly UNetDenoiser _inner;
    private readonly long[] _labels, _nullLabels;
    private readonly float _scale;
    private Tensor? _unconditional;

    /// <summary>Guides <paramref name="inner"/> with scale <paramref name="scale"/> (w ≥ 0) between <paramref name="labels"/> and <paramref name="nullLabels"/> (one per batch element).</summary>
    /// <exception cref="ArgumentException">The model is not class-conditional, or the label counts differ.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="scale"/> is negative or not finite.</exception>
    public GuidedDenoiser(UNetDenoiser inner, long[] labels, long[] nullLabels, double scale)
    {
        if (!inner.IsClassConditional) throw new ArgumentException("guidance needs a class-conditional model; this one takes no class labels");
        if (labels.Length != nullLabels.Length) throw new ArgumentException($"guidance: {labels.Length} labels but {nullLabels.Length} null labels");
        if (!double.IsFinite(scale) || scale < 0) throw new ArgumentOutOfRangeException(nameof(scale), $"guidance scale must be a finite number ≥ 0, found {scale}");
        _inner = inner;
        _labels = labels;
        _nullLabels = nullLabels;
        _scale = (float)scale;
    }

    /// <inheritdoc/>
    public Backend Backend => _inner.Backend;
    /// <inheritdoc/>
    public int[] SampleShape => _inner.SampleShape;
    /// <inheritdoc/>
    public double SigmaMin => _inner.SigmaMin;
    /// <inheritdoc/>
    public double SigmaMax => _inner.SigmaMax;
    /// <inheritdoc/>
    public int Evaluations => _inner.Evaluations;

    /// <inheritdoc/>
    public void Denoise(Tensor x, double sigma, Tensor denoised)
    {
        _unconditional ??= Backend.Allocate(x.Shape);
        _inner.SetClassLabels(_nullLabels);
        _inner.Denoise(x, sigma, _unconditional);
        _inner.SetClassLabels(_labels);
        _inner.Denoise(x, sigma, denoised);
        Backend.LinearCombination(denoised, [_unconditional, denoised], [1 - _scale, _scale]);
    }

    /// <inheritdoc/>
    public void Predict(Tensor input, float timestep, Tensor output)
    {
        _unconditional ??= Backend.Allocate(input.Shape);
        _inner.SetClassLabels(_nullLabels);
        _inner.Predict(input, timestep, _unconditional);
        _inner.SetClassLabels(_labels);
        _inner.Predict(input, timestep, output);
        Backend.LinearCombination(output, [_unconditional, output], [1 - _scale, _scale]);
    }

    /// <inheritdoc/>
    public void Dispose() => _unconditional?.Dispose();
}
