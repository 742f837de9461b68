using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>
/// Predictor–corrector sampling with data consistency, after score-MRI (Chung &amp; Ye 2022) and Song et al. (2022): in
/// σ-space with the score s(x, σ) = (D(x, σ) − x)/σ² of the prior denoiser D,
/// <list type="bullet">
/// <item>predictor (reverse diffusion): x ← x + (σᵢ² − σᵢ₊₁²)·s(x, σᵢ) + √(σᵢ² − σᵢ₊₁²)·z;</item>
/// <item>corrector (Langevin, <see cref="CorrectorSteps"/> times): x ← x + ε·s(x, σᵢ₊₁) + √(2ε)·z with
/// ε = 2(r·‖z‖/‖s‖)² per image, r = <see cref="Snr"/>;</item>
/// <item>after each: data consistency at the current noise level, <see cref="DataConsistencyDenoiser.ProjectNoisy"/>
/// (the measured components replaced by the measurement noised like the sample).</item>
/// </list>
/// The last step (to σ = 0) is the data-consistent x̂₀ of the final level, then <see cref="DataConsistencyDenoiser.Finalize"/>.
/// Evaluations: 1 + CorrectorSteps per step, 1 for the last.
/// </summary>
/// <remarks>Thread safety: immutable settings; each run keeps its state in its arguments.</remarks>
public sealed class ScoreMriPc
{
    /// <summary>Langevin signal-to-noise ratio r (0.16 in score-SDE's VE settings).</summary>
    public double Snr { get; }
    /// <summary>Corrector steps after each predictor step.</summary>
    public int CorrectorSteps { get; }

    /// <summary>Predictor–corrector with Langevin signal-to-noise ratio <paramref name="snr"/> and <paramref name="correctorSteps"/> corrector steps per predictor step.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="snr"/> is not finite and positive, or the step count is negative.</exception>
    public ScoreMriPc(double snr = 0.16, int correctorSteps = 1)
    {
        Snr = snr > 0 && double.IsFinite(snr) ? snr : throw new ArgumentOutOfRangeException(nameof(snr), $"predictor–corrector: snr must be finite and > 0, found {snr}");
        CorrectorSteps = correctorSteps >= 0 ? correctorSteps : throw new ArgumentOutOfRangeException(nameof(correctorSteps), $"predictor–corrector: corrector steps must be ≥ 0, found {correctorSteps}");
    }

    /// <summary>Denoiser evaluations a run over <paramref name="steps"/> steps takes per batch.</summary>
    public int Evaluations(int steps) => steps < 1 ? 0 : (steps - 1) * (1 + CorrectorSteps) + 1;

    /// <summary>Runs over <paramref name="sigmas"/> (decreasing, ending at 0) with x entering as σ₀·noise.</summary>
    public void Sample(Tensor x, DataConsistencyDenoiser dc, double[] sigmas, SamplerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(dc);
        ArgumentNullException.ThrowIfNull(sigmas);
        ArgumentNullException.ThrowIfNull(ctx);
        if (sigmas.Length < 2 || sigmas[^1] != 0) throw new ArgumentException($"predictor–corrector: the grid must have at least one step and end at 0, found {sigmas.Length} sigmas ending at {sigmas[^1]}");
        var b = ctx.Backend;
        Tensor den = ctx.Like(), noise = ctx.Like();
        int batch = x.Shape[0], steps = sigmas.Length - 1, draw = 0;
        using var stats = b.Allocate(batch);
        var coefficients = new float[3 * batch];
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            if (next == 0)
            {
                dc.Denoise(x, s, den);
                b.Copy(den, x);
                ctx.EndStep(i, steps, s, next, x);
                break;
            }
            dc.Inner.Denoise(x, s, den);
            double var = s * s - next * next;
            ctx.Noise(noise, draw++);
            b.LinearCombination(x, [x, den, noise], [(float)(1 - var / (s * s)), (float)(var / (s * s)), (float)Math.Sqrt(var)]);
            ctx.Noise(noise, draw++);
            dc.ProjectNoisy(x, next, noise);
            for (int c = 0; c < CorrectorSteps; c++)
            {
                dc.Inner.Denoise(x, next, den);
                ctx.Noise(noise, draw++);
                // score g = (den − x)/σ²; ‖g‖ per image from den − x.
                b.LinearCombination(den, [den, x], [1f, -1f]);
                var g2 = SquaredNorms(b, den, stats, batch);
                var z2 = SquaredNorms(b, noise, stats, batch);
                for (int n = 0; n < batch; n++)
                {
                    double gNorm = Math.Sqrt(g2[n]) / (next * next);
                    double eps = gNorm > 0 ? 2 * Math.Pow(Snr * Math.Sqrt(z2[n]) / gNorm, 2) : 0;
                    coefficients[n] = 1f;
                    coefficients[batch + n] = (float)(eps / (next * next));
                    coefficients[2 * batch + n] = (float)Math.Sqrt(2 * eps);
                }
                b.LinearCombination(x, [x, den, noise], coefficients);
                ctx.Noise(noise, draw++);
                dc.ProjectNoisy(x, next, noise);
            }
            ctx.EndStep(i, steps, s, next, x);
        }
        dc.Finalize(x);
    }

    /// <summary>‖t[n]‖² per image, from the backend's per-sample mean and (population) std.</summary>
    internal static double[] SquaredNorms(Backend b, Tensor t, Tensor stats, int batch)
    {
        var mean = new float[batch];
        var std = new float[batch];
        b.Reduce(t, stats, Reduction.Mean);
        b.CopyToHost(stats, mean);
        b.Reduce(t, stats, Reduction.Std);
        b.CopyToHost(stats, std);
        double per = t.Length / batch;
        return Enumerable.Range(0, batch).Select(n => per * ((double)std[n] * std[n] + (double)mean[n] * mean[n])).ToArray();
    }
}
