using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Predictor–corrector sampling (Song et al. 2021, Alg. 2 for VE, Alg. 3 for VP; score_sde's pc_sampler order: at each
/// grid level σ the Langevin corrector runs first, then the reverse-diffusion predictor steps σ → σ′).
/// Corrector (n steps, <c>CorrectorSteps</c>): x ← x + ε·score + √(2ε)·z with score = (x̂₀ − x)/σ² and
/// ε = 2α(r‖z‖/‖score‖)², r = <c>Snr</c> (0.16 VE, 0.01 VP), α = 1 for VE and the step's VP α = (1 + σ′²)/(1 + σ²)
/// for VP. This step is the same in σ-space as in VP coordinates (ε scales with the coordinates' square), so it runs in
/// σ-space; the norms are per sample (score_sde averages them over the batch, which would make a sample depend on its
/// batch). Predictor: VE, x′ = x + (σ² − σ′²)·score + √(σ² − σ′²)·z; VP in VP coordinates x_vp = x/√(1 + σ²) with the
/// step's β = 1 − α = (σ² − σ′²)/(1 + σ²) (score_sde's discrete β_i, exact for any grid):
/// x_vp′ = (2 − √α)x_vp + β·score_vp + √β·z. A step to σ = 0 returns x̂₀; the last step of a grid ending on σ &gt; 0
/// adds no noise (noise_removal). NFE per step: n + 1. Because ε depends on x and on z, the corrector's stationary law
/// is wider than p_σ by about (1 + 2/d)² in variance for d values per sample: negligible for images, +13% in std at d = 16.
/// </summary>
public sealed class PredictorCorrector(bool variancePreserving) : Solver
{
    public bool VariancePreserving { get; } = variancePreserving;
    public override string Name => VariancePreserving ? "pc_vp" : "pc_ve";
    public override int Order => 1;
    public override bool Stochastic => true;
    public override int EvaluationsPerStep => 2;

    protected override void Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var b = ctx.Backend;
        Tensor den = ctx.Like(), noise = ctx.Like(), diff = ctx.Like();
        int batch = x.Shape[0], steps = sigmas.Length - 1, corrector = ctx.Options.CorrectorSteps;
        if (corrector < 0) throw new ArgumentException($"{Name}: corrector steps must be ≥ 0, found {corrector}");
        double snr = ctx.Options.Snr ?? (VariancePreserving ? 0.01 : 0.16);
        using var norms = new SampleNorms(b, batch, x.Shape.Stride(1));
        var coefficients = new float[3 * batch];
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1], s2 = s * s;
            double alpha = VariancePreserving ? (1 + next * next) / (1 + s2) : 1;
            for (int j = 0; j < corrector; j++)
            {
                ctx.Denoiser.Denoise(x, s, den);
                ctx.Noise(noise, i * (corrector + 1) + j);
                b.LinearCombination(diff, [den, x], [1f, -1f]);
                double[] z = norms.Of(noise), d = norms.Of(diff);
                for (int n = 0; n < batch; n++)
                {
                    // ‖score‖ = ‖x̂₀ − x‖/σ², so ε = 2α(r‖z‖σ²/‖x̂₀ − x‖)².
                    double ratio = snr * z[n] / Math.Max(d[n], 1e-30) * s2;
                    double eps = 2 * alpha * ratio * ratio;
                    coefficients[n] = (float)(1 - eps / s2);
                    coefficients[batch + n] = (float)(eps / s2);
                    coefficients[2 * batch + n] = (float)Math.Sqrt(2 * eps);
                }
                b.LinearCombination(x, [x, den, noise], coefficients);
            }
            ctx.Denoiser.Denoise(x, s, den);
            if (next == 0) b.Copy(den, x);
            else
            {
                double drop = (s2 - next * next) / s2; // (σ² − σ′²)/σ²
                double cx, cd, cz;
                if (VariancePreserving)
                {
                    double beta = (s2 - next * next) / (1 + s2), toNext = Math.Sqrt((1 + next * next) / (1 + s2)); // a/a′
                    cx = toNext * (2 - Math.Sqrt(1 - beta) - drop);
                    cd = toNext * drop;
                    cz = Math.Sqrt(beta * (1 + next * next));
                }
                else (cx, cd, cz) = (1 - drop, drop, Math.Sqrt(s2 - next * next));
                if (i == steps - 1) b.LinearCombination(x, [x, den], [(float)cx, (float)cd]);
                else
                {
                    ctx.Noise(noise, i * (corrector + 1) + corrector);
                    b.LinearCombination(x, [x, den, noise], [(float)cx, (float)cd, (float)cz]);
                }
            }
            ctx.EndStep(i, steps, s, next, x);
        }
    }
}
