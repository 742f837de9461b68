namespace DiffusionKernels.Samplers.Schedules;

/// <summary>
/// The sub-VP SDE (Song et al. 2021): dx = −½β(t)x dt + √(β(t)(1 − e^{−2B(t)})) dw with the VP's β and B; the mean
/// scale is the VP's m = e^{−B/2} but the std is s = 1 − e^{−B} (below the VP's), so σ = s/m = 2·sinh(B/2) and
/// B = 2·asinh(σ/2).
/// </summary>
public sealed class SubVpSchedule(double betaMin = 0.1, double betaMax = 20) : VpSchedule(betaMin, betaMax)
{
    /// <inheritdoc/>
    public override string Name => "subvp";
    /// <inheritdoc/>
    public override double Sigma(double t) => 2 * Math.Sinh(0.5 * IntegratedBeta(t));
    /// <inheritdoc/>
    public override double TimeOf(double sigma) => TimeOfIntegratedBeta(2 * Math.Asinh(0.5 * sigma));
    /// <inheritdoc/>
    public override double DiffusionSquared(double t) => -Beta(t) * ExpM1(-2 * IntegratedBeta(t));
}
