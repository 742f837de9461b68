using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Heun's second-order method on the probability-flow ODE (Karras et al. 2022, Alg. 1); Euler for a final step to σ = 0.
/// With S_churn &gt; 0 it is their stochastic sampler (Alg. 2): where S_tmin ≤ σ ≤ S_tmax, noise first raises σ to
/// σ̂ = σ(1 + γ), γ = min(S_churn/N, √2 − 1), adding √(σ̂² − σ²)·S_noise·z, and the Heun step starts from σ̂.
/// </summary>
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
        var o = ctx.Options;
        Tensor? noise = o.SChurn > 0 ? ctx.Like() : null;
        int steps = sigmas.Length - 1;
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            double gamma = o.SChurn > 0 && s >= o.STmin && s <= o.STmax ? Math.Min(o.SChurn / steps, Math.Sqrt(2) - 1) : 0;
            if (gamma > 0)
            {
                double raised = s * (1 + gamma);
                ctx.Noise(noise!, i);
                b.LinearCombination(x, [x, noise!], [1f, (float)(Math.Sqrt(raised * raised - s * s) * o.SNoise)]);
                s = raised;
            }
            double dt = next - s;
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
