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
public sealed record PredictorCorrector : Solver
{
    /// <param name="variancePreserving">VP (pc_vp, Alg. 3) rather than VE (pc_ve, Alg. 2); sets the default SNR.</param>
    public PredictorCorrector(bool variancePreserving)
    {
        VariancePreserving = variancePreserving;
        Snr = variancePreserving ? 0.01 : 0.16;
    }

    /// <summary>VP (pc_vp) rather than VE (pc_ve).</summary>
    public bool VariancePreserving { get; }
    /// <summary>The corrector's signal-to-noise ratio r (score_sde: 0.16 for VE, 0.01 for VP).</summary>
    public double Snr { get; init => field = SolverSettingException.AtLeast(value, 0, Name, "snr"); }
    /// <summary>Langevin corrector steps per noise level (0: the predictor alone).</summary>
    public int CorrectorSteps { get; init => field = SolverSettingException.AtLeast(value, 0, Name, "corrector_steps"); } = 1;

    /// <inheritdoc/>
    public override string Name => VariancePreserving ? "pc_vp" : "pc_ve";
    /// <inheritdoc/>
    public override int Order => 1;
    /// <inheritdoc/>
    public override bool Stochastic => true;
    /// <inheritdoc/>
    public override int EvaluationsPerStep => 1 + CorrectorSteps;

    /// <inheritdoc/>
    public override IReadOnlyList<SolverSetting> Settings =>
    [
        SolverSetting.Of(this, "snr", "r", "the corrector's signal-to-noise ratio, step ε = 2α(r‖z‖/‖score‖)²", Snr, v => this with { Snr = v }),
        SolverSetting.Of(this, "corrector_steps", "M", "Langevin corrector steps per noise level", CorrectorSteps, v => this with { CorrectorSteps = v }),
    ];

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var b = ctx.Backend;
        Tensor den = ctx.Like(), noise = ctx.Like(), diff = ctx.Like();
        int batch = x.Shape[0], steps = sigmas.Length - 1, corrector = CorrectorSteps;
        using var norms = new SampleNorms(b, batch, x.Shape.Stride(1));
        var scoreStep = new double[batch];
        var langevinNoise = new double[batch];
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1], s2 = s * s;
            double alpha = VariancePreserving ? (1 + next * next) / (1 + s2) : 1;
            for (int j = 0; j < corrector; j++)
            {
                ctx.Denoiser.Denoise(x, s, den);
                ctx.Noise(noise, i * (corrector + 1) + j);
                Combination.Difference(den, x).WriteTo(b, diff);
                double[] z = norms.Of(noise), d = norms.Of(diff);
                for (int n = 0; n < batch; n++)
                {
                    // ‖score‖ = ‖x̂₀ − x‖/σ², so ε = 2α(r‖z‖σ²/‖x̂₀ − x‖)² (Alg. 2/3, corrector lines).
                    double ratio = Snr * z[n] / Math.Max(d[n], 1e-30) * s2;
                    double eps = 2 * alpha * ratio * ratio;
                    scoreStep[n] = eps / s2;
                    langevinNoise[n] = Math.Sqrt(2 * eps);
                }
                // x ← x + ε·score + √(2ε)·z with score = (x̂₀ − x)/σ², per sample.
                new Combination().Add(1, x).Add(scoreStep, Combination.Difference(den, x)).Add(langevinNoise, noise).WriteTo(b, x);
            }
            ctx.Denoiser.Denoise(x, s, den);
            if (next == 0) b.Copy(den, x);
            else
            {
                var (update, predictorNoise) = Predictor(x, den, s, next);
                if (i < steps - 1)
                {
                    ctx.Noise(noise, i * (corrector + 1) + corrector);
                    update.Add(predictorNoise, noise);
                }
                update.WriteTo(b, x);
            }
            yield return ctx.EndStep(i, steps, s, next, x);
        }
    }

    /// <summary>
    /// The reverse-diffusion predictor: its mean and the scale of its noise. VE: x + (σ² − σ′²)·score = x + drop·(x̂₀ − x)
    /// with drop = (σ² − σ′²)/σ², noise √(σ² − σ′²). VP, in VP coordinates x_vp = x/c, c = √(1 + σ²), with
    /// β = (σ² − σ′²)/(1 + σ²): x_vp′ = (2 − √(1 − β))x_vp + β·score_vp + √β·z, which in σ-space is
    /// x′ = (c′/c)[(2 − √(1 − β))x + drop·(x̂₀ − x)] + c′√β·z.
    /// </summary>
    private (Combination Mean, double NoiseScale) Predictor(Tensor x, Tensor den, double s, double next)
    {
        double s2 = s * s, drop = (s2 - next * next) / s2;
        if (!VariancePreserving) return (new Combination().Add(1, x).Add(drop, Combination.Difference(den, x)), Math.Sqrt(s2 - next * next));
        double beta = (s2 - next * next) / (1 + s2), toNext = Math.Sqrt((1 + next * next) / (1 + s2)); // c′/c
        var mean = new Combination().Add(toNext, new Combination().Add(2 - Math.Sqrt(1 - beta), x).Add(drop, Combination.Difference(den, x)));
        return (mean, Math.Sqrt(beta * (1 + next * next)));
    }
}
