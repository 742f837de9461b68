using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Ancestral sampling with Euler steps (k-diffusion sample_euler_ancestral): each step goes down to σ_down by Euler
/// and adds fresh noise of size σ_up, with σ_up = min(σ', η·√(σ'²(σ² − σ'²)/σ²)), σ_down = √(σ'² − σ_up²).
/// </summary>
public class EulerAncestral : Solver
{
    public override string Name => "euler_ancestral";
    public override int Order => 1;
    public override bool Stochastic => true;
    public override int EvaluationsPerStep => 1;
    public override bool TakesEta => true;
    /// <summary>η when the options give none.</summary>
    protected virtual double DefaultEta => 1;

    /// <summary>k-diffusion's get_ancestral_step.</summary>
    public static (double Down, double Up) AncestralStep(double from, double to, double eta)
    {
        if (eta == 0 || to == 0) return (to, 0);
        double up = Math.Min(to, eta * Math.Sqrt(to * to * (from * from - to * to) / (from * from)));
        return (Math.Sqrt(to * to - up * up), up);
    }

    protected override void Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        Tensor den = ctx.Like(), noise = ctx.Like();
        double eta = ctx.Options.Eta ?? DefaultEta;
        for (int i = 0; i < sigmas.Length - 1; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            ctx.Denoiser.Denoise(x, s, den);
            var (down, up) = AncestralStep(s, next, eta);
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
