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
/// <see cref="Finalize"/> makes the sampler's final output consistent too: the exact projection when noiseless, and
/// for noisy measurements the smallest step along A⁺(y − A·x) that brings ‖A·x − y‖² down to the expected noise
/// energy (the discrepancy principle), so no output leaves the measurements silently.
/// Images are in model units; <paramref name="measurement"/> is A applied to model-unit images, batch-shaped like the
/// samples the solver will pass (the batch the model was compiled for). The caller owns the operator and measurement.
/// </summary>
/// <remarks>Thread safety: holds scratch tensors, so one caller at a time (see <see cref="IDenoiser"/>).</remarks>
public sealed class DataConsistencyDenoiser(IDenoiser inner, ILinearOperator op, Tensor measurement, double measurementSigma = 0) : IDenoiser, IDisposable
{
    private Tensor? _residual, _correction, _projected, _stats, _shifted;

    /// <summary>The prior denoiser the projection wraps.</summary>
    public IDenoiser Inner => inner;
    /// <summary>The measurement operator A.</summary>
    public ILinearOperator Operator => op;
    /// <summary>The measurement y (model units).</summary>
    public Tensor Measurement => measurement;

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
    /// <summary>Noise std of the measurement in model units (0: exact projection).</summary>
    public double MeasurementSigma { get; } = measurementSigma >= 0 && double.IsFinite(measurementSigma)
        ? measurementSigma : throw new ArgumentOutOfRangeException(nameof(measurementSigma), $"measurement σ must be finite and ≥ 0, found {measurementSigma}");

    /// <summary>The weight λ_σ of the correction at noise level <paramref name="sigma"/>: 1 when noiseless, else min(1, σ/σ_y).</summary>
    public double Weight(double sigma) => MeasurementSigma == 0 ? 1 : Math.Min(1, sigma / MeasurementSigma);

    /// <summary>The inner denoiser's x̂₀, then the data-consistency correction with weight <see cref="Weight"/>(σ).</summary>
    public void Denoise(Tensor x, double sigma, Tensor denoised)
    {
        inner.Denoise(x, sigma, denoised);
        Project(denoised, Weight(sigma));
    }

    /// <summary>x ← x + λ·A⁺(y − A·x) in place (λ = 1: the exact projection onto {A·x = y}).</summary>
    public void Project(Tensor x, double weight = 1)
    {
        Scratch(x);
        op.Forward(x, _residual!);
        Backend.LinearCombination(_residual!, [measurement, _residual!], [1f, -1f]);
        op.PseudoInverse(_residual!, _correction!);
        Backend.LinearCombination(x, [x, _correction!], [1f, (float)weight]);
    }

    /// <summary>
    /// Data consistency of a noisy sample x at level <paramref name="sigma"/> (Song et al. 2022, score-MRI): the measured
    /// part of x is replaced by the measurement noised the same way, x ← x + λ·A⁺(y + σ·A·z − A·x) = x + λ·A⁺(y − A(x − σz)),
    /// λ = <see cref="Weight"/>(σ), for standard normal <paramref name="noise"/> z shaped like x.
    /// </summary>
    public void ProjectNoisy(Tensor x, double sigma, Tensor noise)
    {
        ArgumentNullException.ThrowIfNull(noise);
        Scratch(x);
        if (_shifted is null || !_shifted.Shape.Equals(x.Shape)) { _shifted?.Dispose(); _shifted = Backend.Allocate(x.Shape); }
        Backend.LinearCombination(_shifted, [x, noise], [1f, (float)-sigma]);
        op.Forward(_shifted, _residual!);
        Backend.LinearCombination(_residual!, [measurement, _residual!], [1f, -1f]);
        op.PseudoInverse(_residual!, _correction!);
        Backend.LinearCombination(x, [x, _correction!], [1f, (float)Weight(sigma)]);
    }

    /// <summary>
    /// The final data-consistency step on a finished sample <paramref name="x"/> (in place). Noiseless: the exact
    /// projection, so A·x = y to fp32. Noisy: per image, r = y − A·x; when ‖r‖² exceeds the expected noise energy
    /// m·σ_y² (m = the observed entries, <see cref="ILinearOperator.ObservedEntries"/>), x ← x + c·A⁺r with the
    /// smallest c ∈ (0, 1] that brings it there (‖r − c·AA⁺r‖² = ‖r‖² − (2c − c²)‖AA⁺r‖², AA⁺ a projection); else
    /// x is left as it is. Returns the step c of each image.
    /// </summary>
    public double[] Finalize(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        int batch = x.Shape[0];
        if (MeasurementSigma == 0)
        {
            Project(x, 1);
            return Enumerable.Repeat(1.0, batch).ToArray();
        }
        var mShape = Scratch(x);
        if (_projected is null || !_projected.Shape.Equals(mShape)) { _projected?.Dispose(); _projected = Backend.Allocate(mShape); }
        if (_stats is null || _stats.Shape[0] != batch) { _stats?.Dispose(); _stats = Backend.Allocate(batch); }
        op.Forward(x, _residual!);
        Backend.LinearCombination(_residual!, [measurement, _residual!], [1f, -1f]);
        op.PseudoInverse(_residual!, _correction!);
        op.Forward(_correction!, _projected);
        var r2 = SquaredNorms(_residual!, batch);
        var p2 = SquaredNorms(_projected, batch);
        var steps = new double[batch];
        var coefficients = new float[2 * batch];
        for (int n = 0; n < batch; n++)
        {
            double target = op.ObservedEntries(x.Shape, n) * MeasurementSigma * MeasurementSigma;
            if (r2[n] > target && p2[n] > 0)
            {
                double remaining = 1 - (r2[n] - target) / p2[n];
                steps[n] = remaining <= 0 ? 1 : 1 - Math.Sqrt(remaining);
            }
            coefficients[n] = 1f;
            coefficients[batch + n] = (float)steps[n];
        }
        Backend.LinearCombination(x, [x, _correction!], coefficients);
        return steps;
    }

    private double[] SquaredNorms(Tensor t, int batch)
    {
        var mean = new float[batch];
        var std = new float[batch];
        Backend.Reduce(t, _stats!, Runtime.Reduction.Mean);
        Backend.CopyToHost(_stats!, mean);
        Backend.Reduce(t, _stats!, Runtime.Reduction.Std);
        Backend.CopyToHost(_stats!, std);
        double per = t.Length / batch;
        return Enumerable.Range(0, batch).Select(n => per * ((double)std[n] * std[n] + (double)mean[n] * mean[n])).ToArray();
    }

    private Shape Scratch(Tensor x)
    {
        var mShape = op.MeasurementShape(x.Shape);
        if (!mShape.Equals(measurement.Shape))
            throw new ShapeMismatchException($"data consistency: images {x.Shape} give measurements {mShape}, but the measurement is {measurement.Shape}");
        if (_residual is null || !_residual.Shape.Equals(mShape)) { _residual?.Dispose(); _residual = Backend.Allocate(mShape); }
        if (_correction is null || !_correction.Shape.Equals(x.Shape)) { _correction?.Dispose(); _correction = Backend.Allocate(x.Shape); }
        return mShape;
    }

    /// <summary>Frees the scratch tensors (not the inner denoiser, operator or measurement, which the caller owns).</summary>
    public void Dispose()
    {
        _residual?.Dispose();
        _correction?.Dispose();
        _projected?.Dispose();
        _stats?.Dispose();
        _shifted?.Dispose();
    }
}
