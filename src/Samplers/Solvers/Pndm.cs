using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// PNDM (Liu et al. 2022; diffusers' PNDMScheduler). Its transfer x' = √ᾱ'/√ᾱ·x + … is, in σ-space, the step
/// x' = x + (σ' − σ)·ε̂, so the pseudo Runge–Kutta warm-up is classical RK4 in σ: three steps of
/// x' = x + (σ' − σ)(ε̂₁ + 2ε̂₂ + 2ε̂₃ + ε̂₄)/6 with ε̂₂, ε̂₃ at the σ midpoint (diffusers: the midpoint timestep), 4 NFE
/// each; then pseudo linear multistep (PLMS) x' = x + (σ' − σ)(55ε̂ᵢ − 59ε̂ᵢ₋₁ + 37ε̂ᵢ₋₂ − 9ε̂ᵢ₋₃)/24, 1 NFE.
/// <c>plms</c> is diffusers' skip_prk_steps (Stable Diffusion's PLMS): a pseudo improved-Euler first step
/// (2 NFE: x + (σ' − σ)(ε̂ + ε̂(x̃))/2, x̃ the Euler step) then Adams–Bashforth of order 2, 3, 4.
/// Fourth order on a grid uniform in σ (second order on a non-uniform one). A step to σ = 0 is x̂₀.
/// </summary>
public sealed record Pndm : Solver
{
    private const int WarmupSteps = 3;
    private readonly bool _rungeKuttaWarmup;

    /// <param name="rungeKuttaWarmup">pndm's three RK4 warm-up steps; false: plms's improved-Euler first step.</param>
    public Pndm(bool rungeKuttaWarmup) => _rungeKuttaWarmup = rungeKuttaWarmup;

    /// <inheritdoc/>
    public override string Name => _rungeKuttaWarmup ? "pndm" : "plms";
    /// <inheritdoc/>
    public override int Order => 4;
    /// <inheritdoc/>
    public override bool Stochastic => false;
    /// <summary>1 (pndm: 4 on the three warm-up steps; plms: 2 on the first).</summary>
    public override int EvaluationsPerStep => 1;

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var b = ctx.Backend;
        var eps = new Tensor[4];
        for (int k = 0; k < eps.Length; k++) eps[k] = ctx.Like();
        Tensor stage = ctx.Like(), den = ctx.Like(), eps2 = ctx.Like(), eps3 = ctx.Like();
        int steps = sigmas.Length - 1;
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1], dt = next - s;
            History.Rotate(eps);
            ctx.Denoiser.Denoise(x, s, eps[0]);
            if (next == 0)
                b.Copy(eps[0], x); // a step to σ = 0 is x̂₀ (the slot holds x̂₀ until it becomes ε̂)
            else
            {
                Combination.Epsilon(x, eps[0], s).WriteTo(b, eps[0]);
                if (_rungeKuttaWarmup && i < WarmupSteps)
                {
                    double mid = (s + next) / 2;
                    new Combination().Add(1, x).Add(dt / 2, eps[0]).WriteTo(b, stage);
                    ctx.Denoiser.Denoise(stage, mid, den);
                    Combination.Epsilon(stage, den, mid).WriteTo(b, eps2);
                    new Combination().Add(1, x).Add(dt / 2, eps2).WriteTo(b, stage);
                    ctx.Denoiser.Denoise(stage, mid, den);
                    Combination.Epsilon(stage, den, mid).WriteTo(b, eps3);
                    new Combination().Add(1, x).Add(dt, eps3).WriteTo(b, stage);
                    ctx.Denoiser.Denoise(stage, next, den);
                    new Combination().Add(1, x).Add(dt / 6, eps[0]).Add(dt / 3, eps2).Add(dt / 3, eps3)
                        .Add(dt / 6, Combination.Epsilon(stage, den, next)).WriteTo(b, x);
                }
                else if (!_rungeKuttaWarmup && i == 0)
                {
                    new Combination().Add(1, x).Add(dt, eps[0]).WriteTo(b, stage);
                    ctx.Denoiser.Denoise(stage, next, den);
                    new Combination().Add(1, x).Add(dt / 2, eps[0]).Add(dt / 2, Combination.Epsilon(stage, den, next)).WriteTo(b, x);
                }
                else
                {
                    var beta = IPndm.AdamsBashforth[Math.Min(i, 3)];
                    var update = new Combination().Add(1, x);
                    for (int j = 0; j < beta.Length; j++) update.Add(dt * beta[j], eps[j]);
                    update.WriteTo(b, x);
                }
            }
            yield return ctx.EndStep(i, steps, s, next, x);
        }
    }
}
