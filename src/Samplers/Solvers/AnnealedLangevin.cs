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
public sealed record AnnealedLangevin : Solver
{
    /// <summary>T: Langevin steps per noise level.</summary>
    public int LangevinSteps { get; init => field = SolverSettingException.AtLeast(value, 1, Name, "langevin_steps"); } = 5;
    /// <summary>ε of the step size α = ε·σ²/σ_L²; null: 0.2·σ_L² (NCSN's ratio).</summary>
    public double? LangevinEpsilon
    {
        get;
        init => field = value is { } eps ? SolverSettingException.Positive(eps, Name, "langevin_epsilon") : null;
    }

    /// <inheritdoc/>
    public override string Name => "annealed_langevin";
    /// <inheritdoc/>
    public override int Order => 1;
    /// <inheritdoc/>
    public override bool Stochastic => true;
    /// <inheritdoc/>
    public override int EvaluationsPerStep => LangevinSteps;

    /// <inheritdoc/>
    public override IReadOnlyList<SolverSetting> Settings =>
    [
        SolverSetting.Of(this, "langevin_steps", "T", "Langevin steps per noise level", LangevinSteps, v => this with { LangevinSteps = v }),
        SolverSetting.Of(this, "langevin_epsilon", "ε", "step-size scale: α = ε·σ²/σ_L² at level σ (auto: 0.2·σ_L², NCSN's ratio)", LangevinEpsilon, v => this with { LangevinEpsilon = v }),
    ];

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var levels = sigmas.Where(s => s > 0).ToArray();
        if (levels.Length == 0) throw new ArgumentException($"{Name}: the grid has no σ > 0");
        int t = LangevinSteps;
        double last = levels[^1], eps = LangevinEpsilon ?? 0.2 * last * last;
        Tensor den = ctx.Like(), noise = ctx.Like();
        for (int i = 0; i < levels.Length; i++)
        {
            double s = levels[i], alpha = eps * s * s / (last * last);
            for (int k = 0; k < t; k++)
            {
                ctx.Denoiser.Denoise(x, s, den);
                ctx.Noise(noise, i * t + k);
                // x ← x + (α/2)·score + √α·z with score = (x̂₀ − x)/σ² (Alg. 1, line 6).
                new Combination().Add(1, x).Add(alpha / (2 * s * s), Combination.Difference(den, x)).Add(Math.Sqrt(alpha), noise).WriteTo(ctx.Backend, x);
            }
            bool final = i == levels.Length - 1;
            if (final && sigmas[^1] == 0)
            {
                ctx.Denoiser.Denoise(x, s, den);
                ctx.Backend.Copy(den, x);
            }
            yield return ctx.EndStep(i, levels.Length, s, final ? sigmas[^1] : levels[i + 1], x);
        }
    }
}
