namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Improved PNDM (Zhang &amp; Chen 2022; k-diffusion sample_ipndm): Adams–Bashforth with the fixed (uniform-step)
/// coefficients on ε̂, x' = x + (σ' − σ)·Σⱼ βⱼ·ε̂ᵢ₋ⱼ, β = 1; (3, −1)/2; (23, −16, 5)/12; (55, −59, 37, −9)/24 as
/// the history fills. Fourth order on a grid uniform in σ; on a non-uniform grid the fixed coefficients make it
/// second order.
/// </summary>
public sealed record IPndm : EpsilonMultistep
{
    /// <inheritdoc/>
    public override string Name => "ipndm";
    /// <inheritdoc/>
    protected override int MaxOrder => 4;

    internal static readonly double[][] AdamsBashforth = [[1], [1.5, -0.5], [23 / 12.0, -16 / 12.0, 5 / 12.0], [55 / 24.0, -59 / 24.0, 37 / 24.0, -9 / 24.0]];

    /// <inheritdoc/>
    protected override double[] Coefficients(double[] sigmas, int i, int order) =>
        [.. AdamsBashforth[order - 1].Select(beta => (sigmas[i + 1] - sigmas[i]) * beta)];
}
