using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// A sampler: a short loop over a decreasing σ grid that updates x in place (k-diffusion's formulation: x = x₀ + σε,
/// the denoiser gives x̂₀). x enters as σ₀·noise (or a partially noised image) and leaves as the sample.
/// A solver is an immutable configured instance: its settings are init properties
/// (<c>new Heun { SChurn = 40 }</c>, <c>SamplerRegistry.Get("heun") with { … }</c>), listed by name in <see cref="Settings"/>.
/// </summary>
public abstract record Solver
{
    /// <summary>The registry name (k-diffusion's or diffusers' where they have one).</summary>
    public abstract string Name { get; }
    /// <summary>Order of accuracy of the deterministic part.</summary>
    public abstract int Order { get; }
    /// <summary>Whether the solver adds fresh noise during the loop (its samples then depend on the seed beyond x_T).</summary>
    public abstract bool Stochastic { get; }
    /// <summary>Denoiser evaluations per step (the last step may take fewer).</summary>
    public abstract int EvaluationsPerStep { get; }

    /// <summary>The settings this solver takes, with their values on this instance (empty when it takes none).</summary>
    public virtual IReadOnlyList<SolverSetting> Settings => [];

    /// <summary>Whether <paramref name="setting"/> (e.g. <c>eta</c>, <c>s_churn</c>) is one of <see cref="Settings"/>.</summary>
    public bool Takes(string setting) => Settings.Any(s => s.Name == setting);

    /// <summary>A copy with <paramref name="setting"/> at <paramref name="value"/>; a <see cref="SolverSettingException"/> when this solver does not take it or the value is out of range.</summary>
    public Solver With(string setting, object? value) =>
        (Settings.FirstOrDefault(s => s.Name == setting)
         ?? throw new SolverSettingException(Name, setting, $"is not a setting of {Name}; samplers that take it: {string.Join(", ", SamplerRegistry.Taking(setting))}",
             SamplerRegistry.Setting(setting)?.Label))
        .With(value);

    /// <summary>Runs the loop over <paramref name="sigmas"/> (length steps + 1, ending at 0 or σ_min).</summary>
    public void Sample(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        if (sigmas.Length < 2) throw new ArgumentException($"{Name}: need at least one step (2 sigmas), found {sigmas.Length}");
        Run(x, sigmas, ctx);
    }

    /// <summary>The loop itself, after <see cref="Sample"/> checked the grid; updates <paramref name="x"/> in place.</summary>
    protected abstract void Run(Tensor x, double[] sigmas, SamplerContext ctx);
}
