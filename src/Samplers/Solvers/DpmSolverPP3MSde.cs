namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DPM-Solver++(3M) SDE (Lu et al. 2022; k-diffusion sample_dpmpp_3m_sde): <see cref="DpmSolverPP3M"/> with η
/// (default 1): x' = (σ'/σ)e^{−ηh}x + (1 − e^{−(1+η)h})x̂₀ + φ₂D₁ − φ₃D₂ + σ'√(1 − e^{−2ηh})·z.
/// </summary>
public sealed class DpmSolverPP3MSde : DpmSolverPP3M
{
    public override string Name => "dpmpp_3m_sde";
    public override bool Stochastic => true;
    public override bool TakesEta => true;
    protected override double DefaultEta => 1;
}
