namespace DiffusionKernels.Samplers.Schedules;

/// <summary>
/// The variance-preserving SDE (Song et al. 2021; continuous DDPM): β(t) = β_min + t(β_max − β_min),
/// dx = −½β(t)x dt + √β(t) dw, ᾱ(t) = exp(−B(t)) with B(t) = ∫₀ᵗβ = ½t²(β_max − β_min) + tβ_min, m = √ᾱ, s = √(1 − ᾱ),
/// σ(t) = √(1/ᾱ − 1) = √(e^B − 1).
/// </summary>
public class VpSchedule(double betaMin = 0.1, double betaMax = 20) : ContinuousSchedule
{
    public override string Name => "vp";
    public double BetaMin { get; } = betaMin > 0 && betaMax > betaMin ? betaMin : throw new ArgumentException($"VP schedule needs 0 < β_min < β_max, found {betaMin}, {betaMax}");
    public double BetaMax { get; } = betaMax;
    public override double Epsilon => 1e-3;

    public double Beta(double t) => BetaMin + t * (BetaMax - BetaMin);
    /// <summary>B(t) = ∫₀ᵗ β(u) du.</summary>
    public double IntegratedBeta(double t) => 0.5 * t * t * (BetaMax - BetaMin) + t * BetaMin;
    /// <summary>ᾱ(t) = exp(−B(t)).</summary>
    public double AlphaCumprod(double t) => Math.Exp(-IntegratedBeta(t));

    /// <summary>The t with B(t) = <paramref name="b"/> (root of ½Δβ t² + β_min t − B, in the form stable for small B).</summary>
    protected double TimeOfIntegratedBeta(double b) => 2 * b / (BetaMin + Math.Sqrt(BetaMin * BetaMin + 2 * (BetaMax - BetaMin) * b));

    public override double Sigma(double t) => Math.Sqrt(ExpM1(IntegratedBeta(t)));
    public override double TimeOf(double sigma) => TimeOfIntegratedBeta(Log1P(sigma * sigma));
    public override double Scale(double t) => Math.Exp(-0.5 * IntegratedBeta(t));
    public override double Drift(double t) => -0.5 * Beta(t);
    public override double DiffusionSquared(double t) => Beta(t);
}
