namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// A solver family written once for its ODE and its stochastic members, as k-diffusion writes them: η = 0 is the
/// probability-flow ODE solver and η &gt; 0 adds that much noise per step (ancestral or SDE). <see cref="Eta"/> null is
/// the ODE solver as its own sampler, which takes no η (euler, dpmpp_2m, dpmpp_3m); a value makes the stochastic one
/// (euler_ancestral, dpmpp_2m_sde, dpmpp_3m_sde), whose η can be set.
/// </summary>
public abstract record EtaSolver : Solver
{
    /// <summary>η ≥ 0; null: the ODE solver, which takes no η.</summary>
    public double? Eta
    {
        get;
        init => field = value is { } eta ? SolverSettingException.AtLeast(eta, 0, Name, "eta") : null;
    }

    /// <inheritdoc/>
    public override bool Stochastic => Eta > 0;
    /// <inheritdoc/>
    public override IReadOnlyList<SolverSetting> Settings => Eta is { } eta ? [SolverSetting.Eta(this, eta, v => this with { Eta = v })] : [];
}
