using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>Heun's second-order method on the probability-flow ODE (Karras et al. 2022, Alg. 1); Euler for a final step to σ = 0.</summary>
public sealed class Heun : Solver
{
    public override string Name => "heun";
    public override int Order => 2;
    public override bool Stochastic => false;
    public override int EvaluationsPerStep => 2;

    protected override void Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        Tensor den = ctx.Like(), x2 = ctx.Like(), den2 = ctx.Like();
        var b = ctx.Backend;
        for (int i = 0; i < sigmas.Length - 1; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1], dt = next - s;
            ctx.Denoiser.Denoise(x, s, den);
            if (next == 0)
            {
                b.LinearCombination(x, [x, den], [0f, 1f]);
            }
            else
            {
                b.LinearCombination(x2, [x, den], [(float)(next / s), (float)(1 - next / s)]);
                ctx.Denoiser.Denoise(x2, next, den2);
                // x + dt/2·((x − den)/s + (x2 − den2)/next)
                double a = dt / (2 * s), c = dt / (2 * next);
                b.LinearCombination(x, [x, den, x2, den2], [(float)(1 + a), (float)-a, (float)c, (float)-c]);
            }
            ctx.EndStep(i, sigmas.Length - 1, s, next, x);
        }
    }
}
