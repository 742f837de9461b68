namespace DiffusionKernels.Medical.Inverse;

/// <summary>
/// The order of steps of a resampling sampler (RePaint's jumps, DDNM's time travel): the grid is cut into blocks of
/// <c>jumpLength</c> steps; each block is run <c>jumpCount</c> times, the state being re-noised from the block's end
/// back to its start between passes. The last block (ending at σ = 0) is run once.
/// </summary>
internal static class ResamplingWalk
{
    /// <summary>Steps (so denoiser calls, one per step) a walk over <paramref name="steps"/> steps takes.</summary>
    public static int Evaluations(int steps, int jumpLength, int jumpCount)
    {
        Check(steps, jumpLength, jumpCount);
        int blocks = steps / jumpLength, repeatedSteps = (steps % jumpLength == 0 ? blocks - 1 : blocks) * jumpLength;
        return steps + Math.Max(0, repeatedSteps) * (jumpCount - 1);
    }

    /// <summary>
    /// Calls <paramref name="step"/>(i, done) for every step i (σᵢ → σᵢ₊₁) in walk order (done counts the steps run
    /// before it) and <paramref name="jumpBack"/>(from, to) with grid indices before each repeated pass of a block.
    /// </summary>
    public static void Run(int steps, int jumpLength, int jumpCount, Action<int, int> step, Action<int, int> jumpBack)
    {
        Check(steps, jumpLength, jumpCount);
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(jumpBack);
        int done = 0;
        for (int blockStart = 0; blockStart < steps; blockStart += jumpLength)
        {
            int blockEnd = Math.Min(steps, blockStart + jumpLength);
            int passes = blockEnd == steps ? 1 : jumpCount;
            for (int pass = 0; pass < passes; pass++)
            {
                if (pass > 0) jumpBack(blockEnd, blockStart);
                for (int i = blockStart; i < blockEnd; i++) step(i, done++);
            }
        }
    }

    private static void Check(int steps, int jumpLength, int jumpCount)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"resampling: steps must be ≥ 1, found {steps}");
        if (jumpLength < 1) throw new ArgumentOutOfRangeException(nameof(jumpLength), $"resampling: jump length must be ≥ 1, found {jumpLength}");
        if (jumpCount < 1) throw new ArgumentOutOfRangeException(nameof(jumpCount), $"resampling: jump count must be ≥ 1, found {jumpCount}");
    }
}
