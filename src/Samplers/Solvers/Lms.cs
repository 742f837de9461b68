namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Linear multistep of order 4 in σ (k-diffusion sample_lms; Adams–Bashforth on the non-uniform grid):
/// x' = x + Σⱼ cⱼ·ε̂ᵢ₋ⱼ, cⱼ = ∫_σᵢ^σᵢ₊₁ ℓⱼ(τ) dτ with ℓⱼ the Lagrange basis on σᵢ, σᵢ₋₁, … (Gauss–Legendre on the host).
/// </summary>
public sealed record Lms : EpsilonMultistep
{
    /// <inheritdoc/>
    public override string Name => "lms";
    /// <inheritdoc/>
    protected override int MaxOrder => 4;

    /// <inheritdoc/>
    protected override double[] Coefficients(double[] sigmas, int i, int order) =>
        LagrangeQuadrature.Integrals([.. Enumerable.Range(0, order).Select(j => sigmas[i - j])], sigmas[i], sigmas[i + 1]);
}
