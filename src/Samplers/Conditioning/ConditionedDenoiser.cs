using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Denoisers;

namespace DiffusionKernels.Samplers.Conditioning;

/// <summary>
/// An <see cref="IConditionalDenoiser"/> with its condition fixed, as an <see cref="IDenoiser"/> any solver runs. The
/// condition stays on the device: each call hands the same tensor to the network, with no host copy per step.
/// With a guidance scale w it is classifier-free guidance by dropping the condition (a zero condition, the "null"
/// image such models are trained with): x̂₀ = x̂₀(∅) + w·(x̂₀(c) − x̂₀(∅)), two evaluations per call.
/// </summary>
/// <remarks>
/// Thread safety: one caller at a time (see <see cref="IDenoiser"/>). The condition tensor is borrowed, not owned: keep
/// it alive and unchanged while sampling; <see cref="SetCondition"/> swaps it between batches.
/// </remarks>
public sealed class ConditionedDenoiser : IDenoiser, IDisposable
{
    private readonly IConditionalDenoiser _inner;
    private readonly float? _guidance;
    private Tensor _condition;
    private Tensor? _nullCondition, _unconditional;

    /// <summary>Fixes <paramref name="condition"/> [B, C_cond, H, W]; <paramref name="guidanceScale"/> (≥ 0) turns on guidance by a zero null condition.</summary>
    public ConditionedDenoiser(IConditionalDenoiser inner, Tensor condition, double? guidanceScale = null)
    {
        if (guidanceScale is { } w && (!double.IsFinite(w) || w < 0))
            throw new ArgumentOutOfRangeException(nameof(guidanceScale), $"guidance scale must be a finite number ≥ 0, found {w}");
        _inner = inner;
        _guidance = guidanceScale is { } g ? (float)g : null;
        _condition = Checked(condition);
    }

    /// <summary>The condition the next evaluations use.</summary>
    public Tensor Condition => _condition;

    /// <summary>Replaces the condition (same shape rules as the constructor), e.g. for the next batch.</summary>
    public void SetCondition(Tensor condition) => _condition = Checked(condition);

    /// <inheritdoc />
    public Backend Backend => _inner.Backend;
    /// <inheritdoc />
    public int[] SampleShape => _inner.SampleShape;
    /// <inheritdoc />
    public double SigmaMin => _inner.SigmaMin;
    /// <inheritdoc />
    public double SigmaMax => _inner.SigmaMax;
    /// <inheritdoc />
    public int Evaluations => _inner.Evaluations;

    /// <inheritdoc />
    public void Denoise(Tensor x, double sigma, Tensor denoised)
    {
        if (x.Shape[0] != _condition.Shape[0])
            throw new ShapeMismatchException($"conditioned denoiser: the batch holds {x.Shape[0]} samples but the condition {_condition.Shape[0]}");
        if (_guidance is not { } w)
        {
            _inner.Denoise(x, _condition, sigma, denoised);
            return;
        }
        if (_nullCondition is null || !_nullCondition.Shape.Equals(_condition.Shape))
        {
            _nullCondition?.Dispose();
            _nullCondition = Backend.Allocate(_condition.Shape); // zero-filled
        }
        if (_unconditional is null || !_unconditional.Shape.Equals(x.Shape))
        {
            _unconditional?.Dispose();
            _unconditional = Backend.Allocate(x.Shape);
        }
        _inner.Denoise(x, _nullCondition, sigma, _unconditional);
        _inner.Denoise(x, _condition, sigma, denoised);
        Backend.LinearCombination(denoised, [_unconditional, denoised], [1 - w, w]);
    }

    private Tensor Checked(Tensor condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var per = _inner.ConditionShape;
        if (condition.Rank != per.Length + 1 || !condition.Shape.ToArray().AsSpan(1).SequenceEqual(per))
            throw new ShapeMismatchException($"conditioned denoiser: the condition must be [batch, {string.Join(", ", per)}], found {condition.Shape}");
        if (!ReferenceEquals(condition.Backend, _inner.Backend))
            throw new ArgumentException($"conditioned denoiser: the condition lives on {condition.Backend.Name}, the model on {_inner.Backend.Name}");
        return condition;
    }

    /// <summary>Frees the null condition and scratch (not the borrowed condition or the inner denoiser).</summary>
    public void Dispose()
    {
        _nullCondition?.Dispose();
        _unconditional?.Dispose();
    }
}
