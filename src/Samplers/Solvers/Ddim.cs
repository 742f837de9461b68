namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DDIM (Song et al. 2021). In σ-space its update with DDIM's σ_η = η·√(σ'²(σ² − σ'²)/σ²) is exactly the ancestral
/// step of <see cref="EulerAncestral"/>: x' = x̂₀ + σ_down·(x − x̂₀)/σ + σ_η·z with σ_down = √(σ'² − σ_η²). η = 0 (the
/// default) is deterministic (Euler on the probability-flow ODE). Use it with the discrete grid (<c>--sigmas discrete</c>)
/// to reproduce diffusers' DDIMScheduler.
/// </summary>
public class Ddim : EulerAncestral
{
    public override string Name => "ddim";
    public override bool Stochastic => false;
    protected override double DefaultEta => 0;
}

/// <summary>DDPM ancestral sampling (Ho et al. 2020) with the posterior variance β̃ (fixed_small): DDIM with η = 1.</summary>
public sealed class Ddpm : Ddim
{
    public override string Name => "ddpm";
    public override bool Stochastic => true;
    protected override double DefaultEta => 1;
}
