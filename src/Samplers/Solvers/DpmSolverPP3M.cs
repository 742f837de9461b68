using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DPM-Solver++(3M) (Lu et al. 2022, "DPM-Solver++", multistep third order in data prediction) and its SDE variant
/// with η (k-diffusion sample_dpmpp_3m_sde, whose η = 0 diffusers' DPMSolverMultistepScheduler with solver_order = 3
/// matches from the third step): with h = λ' − λ, ĥ = (1 + η)h, rₖ = h₋ₖ/h, D₁₀ = (x̂₀ − x̂₀₋₁)/r₀,
/// D₁₁ = (x̂₀₋₁ − x̂₀₋₂)/r₁, D₁ = D₁₀ + r₀/(r₀ + r₁)(D₁₀ − D₁₁), D₂ = (D₁₀ − D₁₁)/(r₀ + r₁),
/// φ₂ = 1 − (1 − e^{−ĥ})/ĥ, φ₃ = φ₂/ĥ − ½: x' = (σ'/σ)e^{−ηh}x + (1 − e^{−ĥ})x̂₀ + φ₂D₁ − φ₃D₂ + σ'√(1 − e^{−2ηh})·z;
/// the second step uses x' = … + φ₂(x̂₀ − x̂₀₋₁)/r₀, the first is first order, and lower_order_final applies
/// diffusers' rule. <see cref="EtaSolver.Eta"/> null is the ODE solver without an η setting (<c>dpmpp_3m</c>); a value makes it
/// <c>dpmpp_3m_sde</c> (k-diffusion's default η = 1). A step to σ = 0 is x̂₀. This is the reference update; its φ₃D₂
/// is half the Taylor term (2φ₃D₂ would be), so it converges with order 2, not 3 (measured in the tests).
/// </summary>
public sealed record DpmSolverPP3M : EtaSolver
{
    /// <summary>diffusers' lower_order_final: below 15 steps, first order on the last step and at most second on the one before.</summary>
    public bool LowerOrderFinal { get; init; } = true;

    /// <inheritdoc/>
    public override string Name => Eta is null ? "dpmpp_3m" : "dpmpp_3m_sde";
    /// <inheritdoc/>
    public override int Order => 3;
    /// <inheritdoc/>
    public override int EvaluationsPerStep => 1;

    /// <inheritdoc/>
    public override IReadOnlyList<SolverSetting> Settings =>
    [
        .. base.Settings,
        SolverSetting.LowerOrderFinal(this, LowerOrderFinal, v => this with { LowerOrderFinal = v }),
    ];

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var b = ctx.Backend;
        double eta = Eta ?? 0;
        Tensor[] den = [ctx.Like(), ctx.Like(), ctx.Like()]; // newest first
        Tensor? noise = Stochastic ? ctx.Like() : null;
        double h1 = 0, h2 = 0;
        int steps = sigmas.Length - 1;
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            History.Rotate(den);
            ctx.Denoiser.Denoise(x, s, den[0]);
            if (next == 0)
                b.Copy(den[0], x); // a step to σ = 0 is x̂₀
            else
            {
                double h = Math.Log(s / next), hEta = (1 + eta) * h;
                // x' = (σ'/σ)e^{−ηh}x + (1 − e^{−ĥ})x̂₀ + φ₂D₁ − φ₃D₂ (+ noise), φ₂ = −g₁(−ĥ), φ₃ = g₂(−ĥ)
                var update = new Combination().Add(next / s * Math.Exp(-eta * h), x).Add(-ExponentialIntegrator.Expm1(-hEta), den[0]);
                int order = MultistepOrder.Limit(3, i, steps, LowerOrderFinal);
                double phi2 = -ExponentialIntegrator.G(1, -hEta), phi3 = ExponentialIntegrator.G(2, -hEta);
                if (order == 2)
                    update.Add(phi2, Combination.Difference(den[0], den[1], h / h1));
                else if (order == 3)
                {
                    double r0 = h1 / h, r1 = h2 / h;
                    var d10 = Combination.Difference(den[0], den[1], 1 / r0);
                    var d11 = Combination.Difference(den[1], den[2], 1 / r1);
                    var d1 = new Combination().Add(1 + r0 / (r0 + r1), d10).Add(-r0 / (r0 + r1), d11);
                    var d2 = new Combination().Add(1 / (r0 + r1), d10).Add(-1 / (r0 + r1), d11);
                    update.Add(phi2, d1).Add(-phi3, d2);
                }
                if (noise is not null)
                {
                    ctx.Noise(noise, i);
                    update.Add(next * Math.Sqrt(-ExponentialIntegrator.Expm1(-2 * eta * h)), noise);
                }
                update.WriteTo(b, x);
                (h2, h1) = (h1, h);
            }
            yield return ctx.EndStep(i, steps, s, next, x);
        }
    }
}
