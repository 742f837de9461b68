using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DPM-Solver-1/2/3 (Lu et al. 2022, "DPM-Solver", noise-prediction form, singlestep), with h = λ' − λ, ε̂ = (x − x̂₀)/σ
/// and σ(λ) = e^{−λ}: order 1: x' = x − σ'(eʰ − 1)ε̂ (= DDIM η = 0 = Euler); order 2 (r₁ = ½):
/// u₁ = x − σ₁(e^{r₁h} − 1)ε̂, x' = x − σ'(eʰ − 1)ε̂ − σ'/(2r₁)(eʰ − 1)(ε̂(u₁) − ε̂); order 3 (r₁ = ⅓, r₂ = ⅔):
/// u₂ = x − σ₂(e^{r₂h} − 1)ε̂ − σ₂(r₂/r₁)((e^{r₂h} − 1)/(r₂h) − 1)(ε̂(u₁) − ε̂),
/// x' = x − σ'(eʰ − 1)ε̂ − σ'/r₂((eʰ − 1)/h − 1)(ε̂(u₂) − ε̂). <c>order</c> evaluations per step; a step to σ = 0 is x̂₀.
/// </summary>
public sealed record DpmSolver : Solver
{
    private readonly int _order;

    /// <param name="order">1, 2 or 3.</param>
    public DpmSolver(int order) =>
        _order = order is >= 1 and <= 3 ? order : throw new ArgumentOutOfRangeException(nameof(order), $"DPM-Solver has orders 1 to 3, found {order}");

    /// <inheritdoc/>
    public override string Name => $"dpm_solver_{_order}";
    /// <inheritdoc/>
    public override int Order => _order;
    /// <inheritdoc/>
    public override bool Stochastic => false;
    /// <inheritdoc/>
    public override int EvaluationsPerStep => _order;

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var b = ctx.Backend;
        Tensor den = ctx.Like();
        Tensor? u1 = _order > 1 ? ctx.Like() : null, den1 = _order > 1 ? ctx.Like() : null;
        Tensor? u2 = _order > 2 ? ctx.Like() : null, den2 = _order > 2 ? ctx.Like() : null;
        for (int i = 0; i < sigmas.Length - 1; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            ctx.Denoiser.Denoise(x, s, den);
            if (next == 0 || _order == 1)
            {
                // Euler: x + (σ' − σ)ε̂; to σ = 0 this is x̂₀.
                new Combination().Add(next / s, x).Add(1 - next / s, den).WriteTo(b, x);
            }
            else
            {
                double h = Math.Log(s / next), phi = ExponentialIntegrator.Expm1(h);
                var eps = Combination.Epsilon(x, den, s);
                double r1 = _order == 2 ? 0.5 : 1.0 / 3, s1 = s * Math.Exp(-r1 * h);
                new Combination().Add(1, x).Add(-s1 * ExponentialIntegrator.Expm1(r1 * h), eps).WriteTo(b, u1!);
                ctx.Denoiser.Denoise(u1!, s1, den1!);
                var d1 = Combination.Epsilon(u1!, den1!, s1).Add(-1, eps);
                var result = new Combination().Add(1, x).Add(-next * phi, eps);
                if (_order == 2)
                    result.Add(-next / (2 * r1) * phi, d1);
                else
                {
                    const double r2 = 2.0 / 3;
                    double s2 = s * Math.Exp(-r2 * h);
                    new Combination().Add(1, x).Add(-s2 * ExponentialIntegrator.Expm1(r2 * h), eps)
                        .Add(-s2 * (r2 / r1) * ExponentialIntegrator.G(1, r2 * h), d1).WriteTo(b, u2!);
                    ctx.Denoiser.Denoise(u2!, s2, den2!);
                    var d2 = Combination.Epsilon(u2!, den2!, s2).Add(-1, eps);
                    result.Add(-next / r2 * ExponentialIntegrator.G(1, h), d2);
                }
                result.WriteTo(b, x);
            }
            yield return ctx.EndStep(i, sigmas.Length - 1, s, next, x);
        }
    }
}
