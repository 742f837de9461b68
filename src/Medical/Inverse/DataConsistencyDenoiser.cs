using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Denoisers;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>
/// A denoiser that enforces a linear measurement y = A·x₀ on every x̂₀ the inner denoiser returns, so any solver becomes
/// a reconstruction method (DDNM, Wang et al. 2023; the data-consistency step of score-based MRI).
/// <para>
/// Noiseless (σ_y = 0): the range–null-space projection x̂₀ ← A⁺y + (I − A⁺A)·x̂₀, computed as
/// x̂₀ + A⁺(y − A·x̂₀), after which A·x̂₀ = y (up to fp32) whenever y lies in the range of A.
/// </para>
/// <para>
/// Noisy (σ_y &gt; 0, DDNM+ style): x̂₀ ← x̂₀ + λ_σ·A⁺(y − A·x̂₀) with λ_σ = min(1, σ/σ_y), σ the noise level of the
/// current denoiser call: the full projection while the sample is noisier than the measurement, a partial one as σ
/// falls below σ_y, so the measurement noise is not copied into the result. (DDNM+'s matching reduction of the added
/// ancestral noise is not applied: the solver's own noise is kept.)
/// </para>
/// Images are in model units; <paramref name="measurement"/> is A applied to model-unit images, batch-shaped like the
/// samples the solver will pass (the batch the model was compiled for). The caller owns the operator and measurement.
/// </summary>
public sealed class DataConsistencyDenoiser(IDenoiser inner, ILinearOperator op, Tensor measurement, double measurementSigma = 0) : IDenoiser, IDisposable
{
    private Tensor? _residual, _correction;

    public Backend Backend => inner.Backend;
    public int[] SampleShape => inner.SampleShape;
    public double SigmaMin => inner.SigmaMin;
    public double SigmaMax => inner.SigmaMax;
    public int Evaluations => inner.Evaluations;
    /// <summary>Noise std of the measurement in model units (0: exact projection).</summary>
    public double MeasurementSigma { get; } = measurementSigma >= 0 && double.IsFinite(measurementSigma)
        ? measurementSigma : throw new ArgumentOutOfRangeException(nameof(measurementSigma), $"measurement σ must be finite and ≥ 0, found {measurementSigma}");

    /// <summary>The weight λ_σ of the correction at noise level <paramref name="sigma"/>: 1 when noiseless, else min(1, σ/σ_y).</summary>
    public double Weight(double sigma) => MeasurementSigma == 0 ? 1 : Math.Min(1, sigma / MeasurementSigma);

    public void Denoise(Tensor x, double sigma, Tensor denoised)
    {
        inner.Denoise(x, sigma, denoised);
        Project(denoised, Weight(sigma));
    }

    /// <summary>x ← x + λ·A⁺(y − A·x) in place (λ = 1: the exact projection onto {A·x = y}).</summary>
    public void Project(Tensor x, double weight = 1)
    {
        var mShape = op.MeasurementShape(x.Shape);
        if (!mShape.Equals(measurement.Shape))
            throw new ShapeMismatchException($"data consistency: images {x.Shape} give measurements {mShape}, but the measurement is {measurement.Shape}");
        if (_residual is null || !_residual.Shape.Equals(mShape)) { _residual?.Dispose(); _residual = Backend.Allocate(mShape); }
        if (_correction is null || !_correction.Shape.Equals(x.Shape)) { _correction?.Dispose(); _correction = Backend.Allocate(x.Shape); }
        op.Forward(x, _residual);
        Backend.LinearCombination(_residual, [measurement, _residual], [1f, -1f]);
        op.PseudoInverse(_residual, _correction);
        Backend.LinearCombination(x, [x, _correction], [1f, (float)weight]);
    }

    public void Dispose()
    {
        _residual?.Dispose();
        _correction?.Dispose();
    }
}
