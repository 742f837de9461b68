namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DEIS-tAB (Zhang &amp; Chen 2022) of order 2 or 3, as diffusers' DEISMultistepScheduler (algorithm "deis", log-ρ):
/// the exponential integrator on ε̂, which in σ-space (ρ = σ) is x' = x + Σⱼ cⱼ·ε̂ᵢ₋ⱼ with
/// cⱼ = ∫_σᵢ^σᵢ₊₁ ℓⱼ(log τ) dτ, ℓⱼ the Lagrange basis in log σ on σᵢ, σᵢ₋₁, … (Gauss–Legendre in log σ on the host).
/// Warm-up orders and diffusers' lower_order_final rule.
/// </summary>
public sealed class Deis(int maxOrder) : EpsilonMultistep
{
    public override string Name => $"deis_{maxOrder}";
    protected override int MaxOrder => maxOrder;
    protected override bool LowersOrderFinal => true;

    protected override double[] Coefficients(double[] sigmas, int i, int order) =>
        LagrangeQuadrature.Integrals([.. Enumerable.Range(0, order).Select(j => Math.Log(sigmas[i - j]))],
            Math.Log(sigmas[i]), Math.Log(sigmas[i + 1]), Math.Exp);
}
