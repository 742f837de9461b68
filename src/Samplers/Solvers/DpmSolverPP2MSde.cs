using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DPM-Solver++(2M) SDE (Lu et al. 2022; k-diffusion sample_dpmpp_2m_sde, midpoint): with h = λ' − λ and η·h,
/// x' = (σ'/σ)e^{−ηh}·x + (1 − e^{−h−ηh})·x̂₀ + ½(1 − e^{−h−ηh})/r·(x̂₀ − x̂₀_prev) + σ'√(1 − e^{−2ηh})·z.
/// </summary>
public sealed class DpmSolverPP2MSde : Solver
{
    public override string Name => "dpmpp_2m_sde";
    public override int Order => 2;
    public override bool Stochastic => true;
    public override int EvaluationsPerStep => 1;
    public override bool TakesEta => true;

    protected override void Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        Tensor den = ctx.Like(), old = ctx.Like(), noise = ctx.Like();
        double eta = ctx.Options.Eta ?? 1.0;
        double? hPrev = null;
        for (int i = 0; i < sigmas.Length - 1; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            ctx.Denoiser.Denoise(x, s, den);
            if (next == 0)
                ctx.Backend.LinearCombination(x, [den], [1f]);
            else
            {
                double h = Math.Log(s) - Math.Log(next), etaH = eta * h;
                double phi = OneMinusExpNeg(h + etaH), decay = next / s * Math.Exp(-etaH), noiseScale = next * Math.Sqrt(OneMinusExpNeg(2 * etaH));
                ctx.Noise(noise, i);
                if (hPrev is null)
                    ctx.Backend.LinearCombination(x, [x, den, noise], [(float)decay, (float)phi, (float)noiseScale]);
                else
                {
                    double c = 0.5 * phi * h / hPrev.Value; // ½·phi/r with r = h_prev/h
                    ctx.Backend.LinearCombination(x, [x, den, old, noise], [(float)decay, (float)(phi + c), (float)-c, (float)noiseScale]);
                }
                hPrev = h;
            }
            ctx.Backend.Copy(den, old);
            ctx.EndStep(i, sigmas.Length - 1, s, next, x);
        }
    }
}
