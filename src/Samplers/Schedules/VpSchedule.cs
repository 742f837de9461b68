namespace DiffusionKernels.Samplers.Schedules;

/// <summary>
/// The variance-preserving SDE (Song et al. 2021; continuous DDPM): β(t) = β_min + t(β_max − β_min),
/// dx = −½β(t)x dt + √β(t) dw, ᾱ(t) = exp(−B(t)) with B(t) = ∫₀ᵗβ = ½t²(β_max − β_min) + tβ_min, m = √ᾱ, s = √(1 − ᾱ),
/// σ(t) = √(1/ᾱ − 1) = √(e^B − 1).
/// </summary>
public class VpSchedule(double betaMin = 0.1, double betaMax = 20) : ContinuousSchedule
{
    /// <inheritdoc/>
    public override string Name => "vp";
    /// <summary>β_min, the rate at t = 0.</summary>
    public double BetaMin { get; } = betaMin > 0 && betaMax > betaMin ? betaMin : throw new ArgumentException($"VP schedule needs 0 < β_min < β_max, found {betaMin}, {betaMax}");
    /// <summary>β_max, the rate at t = 1.</summary>
    public double BetaMax { get; } = betaMax;
    /// <inheritdoc/>
    public override double Epsilon => 1e-3;

    /// <summary>β(t), linear from β_min to β_max.</summary>
    public double Beta(double t) => BetaMin + t * (BetaMax - BetaMin);
    /// <summary>B(t) = ∫₀ᵗ β(u) du.</summary>
    public double IntegratedBeta(double t) => 0.5 * t * t * (BetaMax - BetaMin) + t * BetaMin;
    /// <summary>ᾱ(t) = exp(−B(t)).</summary>
    public double AlphaCumprod(double t) => Math.Exp(-IntegratedBeta(t));

    /// <summary>The t with B(t) = <paramref name="b"/> (root of ½Δβ t² + β_min t − B, in the form stable for small B).</summary>
    protected double TimeOfIntegratedBeta(double b) => 2 * b / (BetaMin + Math.Sqrt(BetaMin * BetaMin + 2 * (BetaMax - BetaMin) * b));

    /// <inheritdoc/>
    public override double Sigma(double t) => Math.Sqrt(ExpM1(IntegratedBeta(t)));
    /// <inheritdoc/>
    public override double TimeOf(double sigma) => TimeOfIntegratedBeta(Log1P(sigma * sigma));
    /// <inheritdoc/>
    public override double Scale(double t) => Math.Exp(-0.5 * IntegratedBeta(t));
    /// <inheritdoc/>
    public override double Drift(double t) => -0.5 * Beta(t);
    /// <inheritdoc/>
    public override double DiffusionSquared(double t) => Beta(t);
}
