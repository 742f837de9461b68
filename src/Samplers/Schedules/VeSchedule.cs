namespace DiffusionKernels.Samplers.Schedules;

/// <summary>
/// The variance-exploding SDE (Song et al. 2021; continuous SMLD/NCSN): σ(t) = σ_min(σ_max/σ_min)^t, dx = g(t) dw with
/// g² = dσ²/dt = 2σ(t)²·log(σ_max/σ_min); no drift and m = 1, so its coordinates are σ-space itself.
/// </summary>
public sealed class VeSchedule(double sigmaMin = 0.01, double sigmaMax = 50) : ContinuousSchedule
{
    /// <inheritdoc/>
    public override string Name => "ve";
    /// <inheritdoc/>
    public double SigmaMin { get; } = sigmaMin > 0 && sigmaMax > sigmaMin ? sigmaMin : throw new ArgumentException($"VE schedule needs 0 < σ_min < σ_max, found {sigmaMin}, {sigmaMax}");
    /// <inheritdoc/>
    public double SigmaMax { get; } = sigmaMax;
    /// <inheritdoc/>
    public override double Epsilon => 1e-5;
    private double LogRatio => Math.Log(SigmaMax / SigmaMin);

    /// <inheritdoc/>
    public override double Sigma(double t) => SigmaMin * Math.Exp(t * LogRatio);
    /// <inheritdoc/>
    public override double TimeOf(double sigma) => Math.Log(sigma / SigmaMin) / LogRatio;
    /// <inheritdoc/>
    public override double Scale(double t) => 1;
    /// <inheritdoc/>
    public override double Drift(double t) => 0;
    /// <inheritdoc/>
    public override double DiffusionSquared(double t) { double s = Sigma(t); return 2 * s * s * LogRatio; }
}
