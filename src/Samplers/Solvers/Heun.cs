using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Heun's second-order method on the probability-flow ODE dx/dσ = (x − x̂₀)/σ (Karras et al. 2022, Alg. 1); Euler for
/// a final step to σ = 0. With S_churn &gt; 0 it is their stochastic sampler (Alg. 2): where S_tmin ≤ σ ≤ S_tmax,
/// noise first raises σ to σ̂ = σ(1 + γ), γ = min(S_churn/N, √2 − 1), adding √(σ̂² − σ²)·S_noise·z, and the Heun
/// step starts from σ̂.
/// </summary>
public sealed record Heun : Solver
{
    /// <summary>S_churn ≥ 0: total churn over the run (0 = deterministic).</summary>
    public double SChurn { get; init => field = SolverSettingException.AtLeast(value, 0, Name, "s_churn"); }
    /// <summary>S_tmin: lowest σ that is churned.</summary>
    public double STmin { get; init => field = SolverSettingException.AtLeast(value, 0, Name, "s_tmin"); }
    /// <summary>S_tmax: highest σ that is churned.</summary>
    public double STmax { get; init => field = SolverSettingException.AtLeastOrInfinity(value, 0, Name, "s_tmax"); } = double.PositiveInfinity;
    /// <summary>S_noise: scale of the churn noise (Karras et al. use 1.003–1.007 to offset detail lost by the denoiser).</summary>
    public double SNoise { get; init => field = SolverSettingException.AtLeast(value, 0, Name, "s_noise"); } = 1;

    /// <inheritdoc/>
    public override string Name => "heun";
    /// <inheritdoc/>
    public override int Order => 2;
    /// <inheritdoc/>
    public override bool Stochastic => SChurn > 0;
    /// <inheritdoc/>
    public override int EvaluationsPerStep => 2;

    /// <inheritdoc/>
    public override IReadOnlyList<SolverSetting> Settings =>
    [
        SolverSetting.Of(this, "s_churn", "S_churn", "stochastic churn (Karras et al. 2022, Alg. 2; 0 = deterministic)", SChurn, v => this with { SChurn = v }),
        SolverSetting.Of(this, "s_tmin", "S_tmin", "churn only where σ ≥ S_tmin", STmin, v => this with { STmin = v }),
        SolverSetting.Of(this, "s_tmax", "S_tmax", "churn only where σ ≤ S_tmax", STmax, v => this with { STmax = v }),
        SolverSetting.Of(this, "s_noise", "S_noise", "scale of the churn noise", SNoise, v => this with { SNoise = v }),
    ];

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        Tensor den = ctx.Like(), x2 = ctx.Like(), den2 = ctx.Like();
        var b = ctx.Backend;
        Tensor? noise = SChurn > 0 ? ctx.Like() : null;
        int steps = sigmas.Length - 1;
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            double gamma = SChurn > 0 && s >= STmin && s <= STmax ? Math.Min(SChurn / steps, Math.Sqrt(2) - 1) : 0;
            if (gamma > 0)
            {
                // σ̂ = σ(1 + γ): x̂ = x + √(σ̂² − σ²)·S_noise·z (Alg. 2, lines 5-6).
                double raised = s * (1 + gamma);
                ctx.Noise(noise!, i);
                new Combination().Add(1, x).Add(Math.Sqrt(raised * raised - s * s) * SNoise, noise!).WriteTo(b, x);
                s = raised;
            }
            ctx.Denoiser.Denoise(x, s, den);
            if (next == 0)
                b.Copy(den, x); // Euler to σ = 0 is x̂₀
            else
            {
                // Euler predictor x̃ = x + (σ′ − σ)d, d = (x − x̂₀)/σ; then x′ = x + (σ′ − σ)(d + d̃)/2 (Alg. 1, lines 5-8).
                new Combination().Add(next / s, x).Add(1 - next / s, den).WriteTo(b, x2);
                ctx.Denoiser.Denoise(x2, next, den2);
                double dt = next - s;
                new Combination().Add(1, x).Add(dt / (2 * s), Combination.Difference(x, den)).Add(dt / (2 * next), Combination.Difference(x2, den2)).WriteTo(b, x);
            }
            yield return ctx.EndStep(i, steps, s, next, x);
        }
    }
}
