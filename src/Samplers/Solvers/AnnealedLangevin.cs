using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Annealed Langevin dynamics (Song and Ermon 2019, NCSN, Alg. 1): the grid's non-zero σ are the noise levels
/// σ_1 &gt; … &gt; σ_L; at each, T steps (<c>LangevinSteps</c>, default 5) of x ← x + (α/2)·score + √α·z with
/// score = (x̂₀ − x)/σ² and α = ε·σ²/σ_L² (<c>LangevinEpsilon</c>; default 0.2·σ_L², the ratio of NCSN's ε = 2e-5 at
/// σ_L = 0.01, so α/σ² = 0.2 at every level whatever the grid). When the grid ends on 0 the result is denoised at σ_L,
/// x̂₀ = x + σ_L²·score (Song and Ermon 2020, NCSNv2). One grid step is one level: T evaluations (plus one for the
/// final denoise).
/// </summary>
public sealed class AnnealedLangevin : Solver
{
    public override string Name => "annealed_langevin";
    public override int Order => 1;
    public override bool Stochastic => true;
    public override int EvaluationsPerStep => 5;

    protected override void Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var levels = sigmas.Where(s => s > 0).ToArray();
        if (levels.Length == 0) throw new ArgumentException($"{Name}: the grid has no σ > 0");
        int t = ctx.Options.LangevinSteps;
        if (t < 1) throw new ArgumentException($"{Name}: Langevin steps per level must be ≥ 1, found {t}");
        double last = levels[^1], eps = ctx.Options.LangevinEpsilon ?? 0.2 * last * last;
        if (!(eps > 0)) throw new ArgumentException($"{Name}: ε must be > 0, found {eps}");
        Tensor den = ctx.Like(), noise = ctx.Like();
        for (int i = 0; i < levels.Length; i++)
        {
            double s = levels[i], alpha = eps * s * s / (last * last), c = alpha / (2 * s * s);
            for (int k = 0; k < t; k++)
            {
                ctx.Denoiser.Denoise(x, s, den);
                ctx.Noise(noise, i * t + k);
                ctx.Backend.LinearCombination(x, [x, den, noise], [(float)(1 - c), (float)c, (float)Math.Sqrt(alpha)]);
            }
            bool final = i == levels.Length - 1;
            if (final && sigmas[^1] == 0)
            {
                ctx.Denoiser.Denoise(x, s, den);
                ctx.Backend.Copy(den, x);
            }
            ctx.EndStep(i, levels.Length, s, final ? sigmas[^1] : levels[i + 1], x);
        }
    }
}
