using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>Euler on the probability-flow ODE dx/dσ = (x − x̂₀)/σ (Karras et al. 2022, Alg. 1 without churn); DDIM with η = 0 is this method.</summary>
public sealed class Euler : Solver
{
    public override string Name => "euler";
    public override int Order => 1;
    public override bool Stochastic => false;
    public override int EvaluationsPerStep => 1;

    protected override void Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var den = ctx.Like();
        for (int i = 0; i < sigmas.Length - 1; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            ctx.Denoiser.Denoise(x, s, den);
            // x + (next − s)(x − den)/s = (next/s)·x + (1 − next/s)·den
            ctx.Backend.LinearCombination(x, [x, den], [(float)(next / s), (float)(1 - next / s)]);
            ctx.EndStep(i, sigmas.Length - 1, s, next, x);
        }
    }
}
