using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Euler steps with ancestral noise (k-diffusion sample_euler_ancestral; DDIM's η family in σ-space, Song et al. 2021,
/// Eq. 12 with σ_η of Eq. 16): each step goes down to σ_down by Euler on dx/dσ = ε̂ and adds fresh noise of size σ_up, with
/// σ_up = min(σ′, η·√(σ′²(σ² − σ′²)/σ²)) and σ_down = √(σ′² − σ_up²). η = 0 is Euler on the probability-flow ODE
/// (Karras et al. 2022, Alg. 1 without churn): <see cref="EtaSolver.Eta"/> null is that solver without an η setting
/// (<c>euler</c>); a value makes it <c>euler_ancestral</c> (default η = 1).
/// </summary>
public record EulerAncestral : EtaSolver
{
    /// <summary>k-diffusion's default η = 1 (<c>Eta = null</c> for plain Euler).</summary>
    public EulerAncestral() => Eta = 1;

    /// <inheritdoc/>
    public override string Name => Eta is null ? "euler" : "euler_ancestral";
    /// <inheritdoc/>
    public override int Order => 1;
    /// <inheritdoc/>
    public override int EvaluationsPerStep => 1;

    /// <summary>k-diffusion's get_ancestral_step: (σ_down, σ_up) of the step σ → σ′.</summary>
    public static (double Down, double Up) AncestralStep(double from, double to, double eta)
    {
        if (eta == 0 || to == 0) return (to, 0);
        double up = Math.Min(to, eta * Math.Sqrt(to * to * (from * from - to * to) / (from * from)));
        return (Math.Sqrt(to * to - up * up), up);
    }

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        Tensor den = ctx.Like();
        Tensor? noise = Stochastic ? ctx.Like() : null;
        int steps = sigmas.Length - 1;
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            ctx.Denoiser.Denoise(x, s, den);
            var (down, up) = AncestralStep(s, next, Eta ?? 0);
            // x′ = x̂₀ + (σ_down/σ)(x − x̂₀) + σ_up·z, i.e. x + (σ_down − σ)·ε̂ plus the noise.
            var update = new Combination().Add(down / s, Combination.Difference(x, den)).Add(1, den);
            if (up > 0)
            {
                ctx.Noise(noise!, i);
                update.Add(up, noise!);
            }
            update.WriteTo(ctx.Backend, x);
            yield return ctx.EndStep(i, steps, s, next, x);
        }
    }
}
