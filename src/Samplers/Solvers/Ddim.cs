namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DDIM (Song et al. 2021, Eq. 12). In σ-space its update with DDIM's σ_η = η·√(σ'²(σ² − σ'²)/σ²) is exactly the
/// ancestral step of <see cref="EulerAncestral"/>, so this type only carries DDIM's name and its default η = 0
/// (deterministic: Euler on the probability-flow ODE). Use it with the discrete grid (<c>--sigmas discrete</c>) to
/// reproduce diffusers' DDIMScheduler.
/// </summary>
public sealed record Ddim : EulerAncestral
{
    /// <summary>DDIM with η = 0.</summary>
    public Ddim() => Eta = 0;
    /// <inheritdoc/>
    public override string Name => "ddim";
}

/// <summary>DDPM ancestral sampling (Ho et al. 2020) with the posterior variance β̃ (fixed_small): DDIM with η = 1.</summary>
public sealed record Ddpm : EulerAncestral
{
    /// <summary>DDPM: η = 1.</summary>
    public Ddpm() => Eta = 1;
    /// <inheritdoc/>
    public override string Name => "ddpm";
}
