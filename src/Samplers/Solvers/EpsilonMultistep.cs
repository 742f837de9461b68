using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Linear multistep methods on the noise estimate: x' = x + Σⱼ cⱼ·ε̂ᵢ₋ⱼ with ε̂ = (x − x̂₀)/σ, the cⱼ given by the method
/// (newest first), warm-up orders 1, 2, … up to <see cref="MaxOrder"/>. A step to σ = 0 is x̂₀.
/// </summary>
public abstract record EpsilonMultistep : Solver
{
    /// <summary>The highest order, reached after the warm-up steps.</summary>
    protected abstract int MaxOrder { get; }
    /// <inheritdoc/>
    public override int Order => MaxOrder;
    /// <inheritdoc/>
    public override bool Stochastic => false;
    /// <inheritdoc/>
    public override int EvaluationsPerStep => 1;
    /// <summary>Whether diffusers' lower_order_final rule applies at this run.</summary>
    protected virtual bool LowersOrderFinal => false;

    /// <summary>cⱼ, j = 0 … order − 1, for the step from sigmas[i] to sigmas[i + 1] (neither 0).</summary>
    protected abstract double[] Coefficients(double[] sigmas, int i, int order);

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var b = ctx.Backend;
        var eps = new Tensor[MaxOrder];
        for (int k = 0; k < eps.Length; k++) eps[k] = ctx.Like();
        int steps = sigmas.Length - 1;
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            History.Rotate(eps);
            ctx.Denoiser.Denoise(x, s, eps[0]);
            if (next == 0)
                b.Copy(eps[0], x); // a step to σ = 0 is x̂₀ (the slot holds x̂₀ until it becomes ε̂)
            else
            {
                Combination.Epsilon(x, eps[0], s).WriteTo(b, eps[0]);
                int order = MultistepOrder.Limit(MaxOrder, i, steps, LowersOrderFinal);
                var c = Coefficients(sigmas, i, order);
                var update = new Combination().Add(1, x);
                for (int j = 0; j < order; j++) update.Add(c[j], eps[j]);
                update.WriteTo(b, x);
            }
            yield return ctx.EndStep(i, steps, s, next, x);
        }
    }
}
