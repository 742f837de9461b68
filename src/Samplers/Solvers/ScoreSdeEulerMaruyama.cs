using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Euler–Maruyama on the reverse-time SDE dx_c = [f(t)x_c − g(t)²∇log p_t(x_c)]dt + g(t)dw̄ of a continuous VP,
/// sub-VP or VE schedule (Song et al. 2021; score_sde's EulerMaruyamaPredictor), in that SDE's own coordinates
/// x_c = m(t)·x and time: each grid σ is mapped to t = σ⁻¹(σ) of the schedule, the score is m(x̂₀ − x)/s² with
/// s = m·σ, and with Δt = t − t′ > 0 and f, g², m at t,
/// x_c′ = (1 − fΔt)x_c + g²Δt·score + g√Δt·z, then x′ = x_c′/m(t′). A step to σ = 0 returns x̂₀; when the grid ends on
/// σ &gt; 0 its last step adds no noise (score_sde's noise_removal returns x_mean). Any decreasing grid works: the
/// schedule's own (<see cref="ContinuousSchedule.Sigmas"/>, t uniform as in score_sde) or any other (σ is mapped to
/// t; steps uniform in log σ are uniform in t for VE). For VE the update reduces to
/// x′ = x + 2·log(σ/σ′)(x̂₀ − x) + σ√(2·log(σ/σ′))·z whatever σ_min and σ_max.
/// </summary>
public sealed record ScoreSdeEulerMaruyama(ContinuousSchedule Sde) : Solver
{
    /// <inheritdoc/>
    public override string Name => $"sde_em_{Sde.Name}";
    /// <inheritdoc/>
    public override int Order => 1;
    /// <inheritdoc/>
    public override bool Stochastic => true;
    /// <inheritdoc/>
    public override int EvaluationsPerStep => 1;

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        Tensor den = ctx.Like(), noise = ctx.Like();
        int steps = sigmas.Length - 1;
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            ctx.Denoiser.Denoise(x, s, den);
            if (next == 0) ctx.Backend.Copy(den, x);
            else
            {
                double t = Sde.TimeOf(s), tNext = Sde.TimeOf(next), dt = t - tNext;
                double m = Sde.Scale(t), mNext = Sde.Scale(tNext), g2 = Sde.DiffusionSquared(t);
                double k = g2 * dt / (s * s * m * m) * m; // g²Δt/s(t)² times m: the score's coefficient on (x̂₀ − x) in x_c
                double toNext = 1 / mNext;
                // x_c′ = (1 − fΔt)x_c + g²Δt·score + g√Δt·z with x_c = m·x, then x′ = x_c′/m(t′).
                var update = new Combination().Add(toNext, new Combination().Add((1 - Sde.Drift(t) * dt) * m, x).Add(k, Combination.Difference(den, x)));
                if (i < steps - 1)
                {
                    ctx.Noise(noise, i);
                    update.Add(Math.Sqrt(g2 * dt) * toNext, noise);
                }
                update.WriteTo(ctx.Backend, x);
            }
            yield return ctx.EndStep(i, steps, s, next, x);
        }
    }
}
