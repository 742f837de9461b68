using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Alg. 2), multistep in λ = −log σ, and its SDE variant (k-diffusion
/// sample_dpmpp_2m_sde, midpoint) with η: h = λ′ − λ, r = h_prev/h, D = (1 + 1/(2r))·x̂₀ − 1/(2r)·x̂₀_prev (x̂₀ on the
/// first step), x′ = (σ′/σ)e^{−ηh}·x + (1 − e^{−(1+η)h})·D + σ′√(1 − e^{−2ηh})·z. η = 0 is the ODE solver:
/// <see cref="EtaSolver.Eta"/> null is that solver without an η setting (<c>dpmpp_2m</c>); a value makes it
/// <c>dpmpp_2m_sde</c> (k-diffusion's default η = 1). A step to σ = 0 is x̂₀.
/// </summary>
public sealed record DpmSolverPP2M : EtaSolver
{
    /// <inheritdoc/>
    public override string Name => Eta is null ? "dpmpp_2m" : "dpmpp_2m_sde";
    /// <inheritdoc/>
    public override int Order => 2;
    /// <inheritdoc/>
    public override int EvaluationsPerStep => 1;

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var b = ctx.Backend;
        double eta = Eta ?? 0;
        Tensor[] den = [ctx.Like(), ctx.Like()]; // x̂₀, x̂₀_prev
        Tensor? noise = Stochastic ? ctx.Like() : null;
        double? hPrev = null;
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
                double h = Math.Log(s) - Math.Log(next), etaH = eta * h;
                // D = (1 + 1/(2r))x̂₀ − (1/(2r))x̂₀_prev, r = h_prev/h (DPM-Solver++ Alg. 2); x̂₀ on the first step.
                var d = new Combination().Add(1, den[0]);
                if (hPrev is { } last)
                {
                    double r = last / h;
                    d = new Combination().Add(1 + 1 / (2 * r), den[0]).Add(-1 / (2 * r), den[1]);
                }
                // x′ = (σ′/σ)e^{−ηh}x + (1 − e^{−(1+η)h})D + σ′√(1 − e^{−2ηh})·z
                var update = new Combination().Add(next / s * Math.Exp(-etaH), x).Add(-ExponentialIntegrator.Expm1(-h - etaH), d);
                if (noise is not null)
                {
                    ctx.Noise(noise, i);
                    update.Add(next * Math.Sqrt(-ExponentialIntegrator.Expm1(-2 * etaH)), noise);
                }
                update.WriteTo(b, x);
                hPrev = h;
            }
            yield return ctx.EndStep(i, steps, s, next, x);
        }
    }
}
