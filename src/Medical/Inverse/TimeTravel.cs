using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>
/// DDNM with time travel (Wang et al. 2023, §3.3): ancestral (DDPM, η = 1) steps whose x̂₀ is the range–null-space
/// projection of <see cref="DataConsistencyDenoiser"/>, and after every <see cref="JumpLength"/> steps the state is
/// re-noised back to the start of the block (x ← x + √(σ_back² − σ²)·z) and the block run again, <see cref="JumpCount"/>
/// passes in all (the last block once): the later, better-informed estimates get to reshape the earlier null-space
/// content, which harmonizes the measured and the generated parts. JumpCount = 1 is plain DDNM with DDPM steps.
/// The output is made data-consistent by <see cref="DataConsistencyDenoiser.Finalize"/>.
/// </summary>
/// <remarks>Thread safety: immutable settings; each run keeps its state in its arguments.</remarks>
public sealed class TimeTravel
{
    /// <summary>Steps per time-travel block (the paper's l).</summary>
    public int JumpLength { get; }
    /// <summary>Passes over each block (1 = no time travel).</summary>
    public int JumpCount { get; }

    /// <summary>Time travel over blocks of <paramref name="jumpLength"/> steps, each passed <paramref name="jumpCount"/> times.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is below 1.</exception>
    public TimeTravel(int jumpLength = 5, int jumpCount = 2)
    {
        JumpLength = jumpLength >= 1 ? jumpLength : throw new ArgumentOutOfRangeException(nameof(jumpLength), $"time travel: jump length must be ≥ 1, found {jumpLength}");
        JumpCount = jumpCount >= 1 ? jumpCount : throw new ArgumentOutOfRangeException(nameof(jumpCount), $"time travel: jump count must be ≥ 1, found {jumpCount}");
    }

    /// <summary>Denoiser evaluations a run over <paramref name="steps"/> steps takes per batch.</summary>
    public int Evaluations(int steps) => ResamplingWalk.Evaluations(steps, JumpLength, JumpCount);

    /// <summary>Runs over <paramref name="sigmas"/> (decreasing, ending at 0) with x entering as σ₀·noise; <paramref name="ctx"/>'s denoiser is not used.</summary>
    public void Sample(Tensor x, DataConsistencyDenoiser dc, double[] sigmas, SamplerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(dc);
        ArgumentNullException.ThrowIfNull(sigmas);
        ArgumentNullException.ThrowIfNull(ctx);
        if (sigmas.Length < 2) throw new ArgumentException($"time travel: need at least one step (2 sigmas), found {sigmas.Length}");
        var b = ctx.Backend;
        Tensor den = ctx.Like(), noise = ctx.Like();
        int steps = sigmas.Length - 1, draw = 0, total = Evaluations(steps);
        ResamplingWalk.Run(steps, JumpLength, JumpCount,
            (i, done) =>
            {
                double s = sigmas[i], next = sigmas[i + 1];
                dc.Denoise(x, s, den);
                AncestralStep(b, x, den, noise, s, next, ctx, ref draw);
                ctx.EndStep(done, total, s, next, x);
            },
            (from, to) => Renoise(b, x, noise, sigmas[from], sigmas[to], ctx, ref draw));
        dc.Finalize(x);
    }

    /// <summary>One ancestral (η = 1) step σ → σ′ of x given x̂₀ = <paramref name="den"/>; draws noise only when σ′ &gt; 0.</summary>
    internal static void AncestralStep(Backend b, Tensor x, Tensor den, Tensor noise, double s, double next, SamplerContext ctx, ref int draw)
    {
        var (down, up) = EulerAncestral.AncestralStep(s, next, 1);
        if (up > 0)
        {
            ctx.Noise(noise, draw++);
            b.LinearCombination(x, [x, den, noise], [(float)(down / s), (float)(1 - down / s), (float)up]);
        }
        else b.LinearCombination(x, [x, den], [(float)(down / s), (float)(1 - down / s)]);
    }

    /// <summary>The forward process from σ up to σ_back: x ← x + √(σ_back² − σ²)·z.</summary>
    internal static void Renoise(Backend b, Tensor x, Tensor noise, double from, double to, SamplerContext ctx, ref int draw)
    {
        ctx.Noise(noise, draw++);
        b.LinearCombination(x, [x, noise], [1f, (float)Math.Sqrt(Math.Max(0, to * to - from * from))]);
    }
}
