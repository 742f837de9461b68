using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Denoisers;

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
        CheckGrid(sigmas);
        foreach (var _ in Run(x, sigmas, ctx)) { }
    }

    /// <summary>
    /// Starts the loop over <paramref name="sigmas"/> on <paramref name="x"/> (the batch at σ₀, updated in place) without
    /// running it: the caller takes the steps one by one with <see cref="SamplerRun.Step"/>, may read and edit x and read
    /// x̂₀ between them, and stops when it likes. Stepping to the end gives exactly what <see cref="Sample"/> gives with
    /// the same options: it is the same loop, suspended after each step (history, noise keys and evaluations unchanged).
    /// </summary>
    /// <param name="x">The batch, [batch, ..sample shape] on the denoiser's backend; the caller keeps ownership.</param>
    /// <param name="sigmas">The σ grid (length steps + 1).</param>
    /// <param name="denoiser">The denoiser the loop evaluates.</param>
    /// <param name="options">Seed, callbacks, cancellation and the finite check, as for <see cref="Sample"/>.</param>
    /// <exception cref="ArgumentException">The grid has fewer than 2 values.</exception>
    public SamplerRun Begin(Tensor x, double[] sigmas, IDenoiser denoiser, SamplerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(denoiser);
        CheckGrid(sigmas);
        var ctx = new SamplerContext(denoiser, x, options ?? new SamplerOptions(), keepStepState: true);
        return new SamplerRun(Run(x, sigmas, ctx), () => ctx.LastState, x, ctx);
    }

    private void CheckGrid(double[] sigmas)
    {
        ArgumentNullException.ThrowIfNull(sigmas);
        if (sigmas.Length < 2) throw new ArgumentException($"{Name}: need at least one step (2 sigmas), found {sigmas.Length}");
    }

    /// <summary>
    /// The solver's loop as an iterator: after each step it calls <see cref="SamplerContext.EndStep"/> and yields what that
    /// returns, so <see cref="Sample"/> runs it through and <see cref="Begin"/> suspends it between steps.
    /// </summary>
    protected abstract IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx);
}
