using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DDIM (Song et al. 2021) in σ-space: x' = x̂₀ + σ_down·ε̂ + σ_up·z with ε̂ = (x − x̂₀)/σ and DDIM's
/// σ_η = η·√(σ'²(σ² − σ'²)/σ²) as σ_up, σ_down = √(σ'² − σ_up²). η = 0 (the default) is deterministic (Euler on the
/// probability-flow ODE); η = 1 is DDPM ancestral sampling with the fixed_small posterior variance (see <see cref="Ddpm"/>).
/// Use it with the discrete grid (<c>--sigmas discrete</c>) to reproduce diffusers' DDIMScheduler.
/// </summary>
public class Ddim : Solver
{
    public override string Name => "ddim";
    public override int Order => 1;
    public override bool Stochastic => false;
    public override int EvaluationsPerStep => 1;
    public override bool TakesEta => true;
    protected virtual double DefaultEta => 0;

    protected override void Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        Tensor den = ctx.Like(), noise = ctx.Like();
        double eta = ctx.Options.Eta ?? DefaultEta;
        for (int i = 0; i < sigmas.Length - 1; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            ctx.Denoiser.Denoise(x, s, den);
            var (down, up) = EulerAncestral.AncestralStep(s, next, eta);
            // x̂₀ + σ_down (x − x̂₀)/σ + σ_up z
            if (up > 0)
            {
                ctx.Noise(noise, i);
                ctx.Backend.LinearCombination(x, [x, den, noise], [(float)(down / s), (float)(1 - down / s), (float)up]);
            }
            else ctx.Backend.LinearCombination(x, [x, den], [(float)(down / s), (float)(1 - down / s)]);
            ctx.EndStep(i, sigmas.Length - 1, s, next, x);
        }
    }
}

/// <summary>DDPM ancestral sampling (Ho et al. 2020) with the posterior variance β̃ (fixed_small): DDIM with η = 1.</summary>
public sealed class Ddpm : Ddim
{
    public override string Name => "ddpm";
    public override bool Stochastic => true;
    protected override double DefaultEta => 1;
}
