namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DEIS-tAB (Zhang &amp; Chen 2022) of order 2 or 3, as diffusers' DEISMultistepScheduler (algorithm "deis", log-ρ):
/// the exponential integrator on ε̂, which in σ-space (ρ = σ) is x' = x + Σⱼ cⱼ·ε̂ᵢ₋ⱼ with
/// cⱼ = ∫_σᵢ^σᵢ₊₁ ℓⱼ(log τ) dτ, ℓⱼ the Lagrange basis in log σ on σᵢ, σᵢ₋₁, … (Gauss–Legendre in log σ on the host).
/// Warm-up orders and diffusers' lower_order_final rule.
/// </summary>
public sealed record Deis : EpsilonMultistep
{
    private readonly int _maxOrder;

    /// <param name="maxOrder">2 or 3.</param>
    public Deis(int maxOrder) =>
        _maxOrder = maxOrder is 2 or 3 ? maxOrder : throw new ArgumentOutOfRangeException(nameof(maxOrder), $"DEIS has orders 2 and 3, found {maxOrder}");

    /// <summary>diffusers' lower_order_final: below 15 steps, first order on the last step and at most second on the one before.</summary>
    public bool LowerOrderFinal { get; init; } = true;

    /// <inheritdoc/>
    public override string Name => $"deis_{_maxOrder}";
    /// <inheritdoc/>
    protected override int MaxOrder => _maxOrder;
    /// <inheritdoc/>
    protected override bool LowersOrderFinal => LowerOrderFinal;
    /// <inheritdoc/>
    public override IReadOnlyList<SolverSetting> Settings => [SolverSetting.LowerOrderFinal(this, LowerOrderFinal, v => this with { LowerOrderFinal = v })];

    /// <inheritdoc/>
    protected override double[] Coefficients(double[] sigmas, int i, int order) =>
        LagrangeQuadrature.Integrals([.. Enumerable.Range(0, order).Select(j => Math.Log(sigmas[i - j]))],
            Math.Log(sigmas[i]), Math.Log(sigmas[i + 1]), Math.Exp);
}
