using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// A sampler: a short loop over a decreasing σ grid that updates x in place (k-diffusion's formulation: x = x₀ + σε,
/// the denoiser gives x̂₀). x enters as σ₀·noise (or a partially noised image) and leaves as the sample.
/// </summary>
public abstract class Solver
{
    public abstract string Name { get; }
    /// <summary>Order of accuracy of the deterministic part.</summary>
    public abstract int Order { get; }
    public abstract bool Stochastic { get; }
    public abstract int EvaluationsPerStep { get; }
    /// <summary>True when the solver takes η.</summary>
    public virtual bool TakesEta => false;
    public virtual string Description => "";

    /// <summary>Runs the loop over <paramref name="sigmas"/> (length steps + 1, ending at 0 or σ_min).</summary>
    public void Sample(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        if (sigmas.Length < 2) throw new ArgumentException($"{Name}: need at least one step (2 sigmas), found {sigmas.Length}");
        if (ctx.Options.Eta is not null && !TakesEta) throw new ArgumentException($"{Name} does not take η (eta); samplers that do: {string.Join(", ", SamplerRegistry.Solvers.Where(s => s.TakesEta).Select(s => s.Name))}");
        Run(x, sigmas, ctx);
    }

    protected abstract void Run(Tensor x, double[] sigmas, SamplerContext ctx);

    /// <summary>1 − e^(−h), accurate for small h (−expm1(−h)).</summary>
    protected static double OneMinusExpNeg(double h) => Math.Abs(h) < 1e-5 ? h - h * h / 2 + h * h * h / 6 : 1 - Math.Exp(-h);
}
