using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DPM-Solver++(2M) (Lu et al. 2022), multistep in λ = −log σ: with h = λ' − λ and r = h_prev/h,
/// D = (1 + 1/(2r))·x̂₀ − 1/(2r)·x̂₀_prev (first order on the first step), x' = (σ'/σ)·x − expm1(−h)·D.
/// </summary>
public sealed class DpmSolverPP2M : Solver
{
    public override string Name => "dpmpp_2m";
    public override int Order => 2;
    public override bool Stochastic => false;
    public override int EvaluationsPerStep => 1;

    protected override void Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        Tensor den = ctx.Like(), old = ctx.Like();
        double? hPrev = null;
        for (int i = 0; i < sigmas.Length - 1; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            ctx.Denoiser.Denoise(x, s, den);
            if (next == 0)
                ctx.Backend.LinearCombination(x, [den], [1f]);
            else
            {
                double h = Math.Log(s) - Math.Log(next), phi = OneMinusExpNeg(h);
                if (hPrev is null)
                    ctx.Backend.LinearCombination(x, [x, den], [(float)(next / s), (float)phi]);
                else
                {
                    double r = hPrev.Value / h;
                    ctx.Backend.LinearCombination(x, [x, den, old], [(float)(next / s), (float)(phi * (1 + 1 / (2 * r))), (float)(-phi / (2 * r))]);
                }
                hPrev = h;
            }
            ctx.Backend.Copy(den, old);
            ctx.EndStep(i, sigmas.Length - 1, s, next, x);
        }
    }
}
