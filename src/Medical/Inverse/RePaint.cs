using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>
/// RePaint inpainting (Lugmayr et al. 2022) in σ-space. Each step σ → σ′ is an ancestral (DDPM, η = 1) step of the
/// whole image, after which the known pixels are replaced by the measurement noised to σ′:
/// x′ ← m⊙(y + σ′·z) + (1 − m)⊙x′. Resampling: after every <see cref="JumpLength"/> steps the state is re-noised back
/// up the grid (x ← x + √(σ_back² − σ²)·z, the forward process in σ-space) and those steps are run again, so that
/// <see cref="JumpCount"/> passes in all go over each block of the grid (the last block, ending at σ = 0, is not
/// repeated). JumpCount = 1 is plain replacement inpainting.
/// </summary>
/// <remarks>Thread safety: immutable settings; each run keeps its state in its arguments.</remarks>
public sealed class RePaint
{
    /// <summary>Steps per resampling jump (RePaint's j, 10 in the paper).</summary>
    public int JumpLength { get; }
    /// <summary>Passes over each block (RePaint's r, 10 in the paper; 1 = no resampling).</summary>
    public int JumpCount { get; }

    /// <summary>RePaint with jumps of <paramref name="jumpLength"/> steps, each block passed <paramref name="jumpCount"/> times.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is below 1.</exception>
    public RePaint(int jumpLength = 10, int jumpCount = 10)
    {
        JumpLength = jumpLength >= 1 ? jumpLength : throw new ArgumentOutOfRangeException(nameof(jumpLength), $"RePaint jump length must be ≥ 1, found {jumpLength}");
        JumpCount = jumpCount >= 1 ? jumpCount : throw new ArgumentOutOfRangeException(nameof(jumpCount), $"RePaint jump count must be ≥ 1, found {jumpCount}");
    }

    /// <summary>Denoiser evaluations a run over <paramref name="steps"/> steps takes per batch.</summary>
    public int Evaluations(int steps) => ResamplingWalk.Evaluations(steps, JumpLength, JumpCount);

    /// <summary>
    /// Runs over <paramref name="sigmas"/> (decreasing, ending at 0) with x entering as σ₀·noise (or anything: the
    /// first step replaces the known region). <paramref name="known"/> is the image with unobserved pixels (anything
    /// there is ignored), <paramref name="mask"/> [H, W] or [B, 1, H, W], 1 = known.
    /// </summary>
    public void Sample(Tensor x, Tensor known, Tensor mask, double[] sigmas, SamplerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(sigmas);
        if (sigmas.Length < 2) throw new ArgumentException($"repaint: need at least one step (2 sigmas), found {sigmas.Length}");
        if (!known.Shape.Equals(x.Shape)) throw new ShapeMismatchException($"repaint: known image {known.Shape} does not match the sample {x.Shape}");
        var b = ctx.Backend;
        Tensor den = ctx.Like(), noise = ctx.Like(), diff = ctx.Like();
        int steps = sigmas.Length - 1, draw = 0, total = Evaluations(steps);
        Replace(x, sigmas[0]);
        ResamplingWalk.Run(steps, JumpLength, JumpCount,
            (i, done) =>
            {
                double s = sigmas[i], next = sigmas[i + 1];
                ctx.Denoiser.Denoise(x, s, den);
                TimeTravel.AncestralStep(b, x, den, noise, s, next, ctx, ref draw);
                Replace(x, next);
                ctx.EndStep(done, total, s, next, x);
            },
            (from, to) => TimeTravel.Renoise(b, x, noise, sigmas[from], sigmas[to], ctx, ref draw));

        // x ← x + m⊙(y + σ·z − x)
        void Replace(Tensor state, double sigma)
        {
            if (sigma > 0)
            {
                ctx.Noise(noise, draw++);
                b.LinearCombination(diff, [known, noise, state], [1f, (float)sigma, -1f]);
            }
            else b.LinearCombination(diff, [known, state], [1f, -1f]);
            b.MultiplyMask(diff, mask, diff);
            b.LinearCombination(state, [state, diff], [1f, 1f]);
        }
    }
}
