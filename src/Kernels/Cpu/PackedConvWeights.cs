namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Convolution weights [cout, cin, kh, kw] laid out once in the SGEMM micro-kernel's A-panel order, so that
/// <see cref="ImplicitGemmConv2d"/> never repacks them: for each depth block of <c>Sgemm.KC</c> (the reduction over
/// k = (ci, ky, kx)), the output channels in panels of <c>Sgemm.MR</c> rows, each panel [k][r] (zero rows past cout).
/// </summary>
/// <remarks>Built at plan compile time for a model's weights; the packed copy holds no reference to the source.</remarks>
internal sealed class PackedConvWeights
{
    /// <summary>Packs <paramref name="weights"/>, a [cout, depth] row-major matrix (depth = cin·kh·kw).</summary>
    /// <exception cref="ArgumentException">The span is shorter than cout·depth.</exception>
    public PackedConvWeights(ReadOnlySpan<float> weights, int outChannels, int depth)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(depth);
        if (weights.Length < (long)outChannels * depth)
            throw new ArgumentException($"packed conv weights: [{outChannels}, {depth}] needs {(long)outChannels * depth} floats, the span has {weights.Length}", nameof(weights));
        OutChannels = outChannels;
        Depth = depth;
        Data = new float[Length(outChannels, depth)];
        Pack(weights, outChannels, depth, Data);
    }

    /// <summary>Output channels (rows of the weight matrix).</summary>
    public int OutChannels { get; }

    /// <summary>cin·kh·kw (columns of the weight matrix).</summary>
    public int Depth { get; }

    /// <summary>The packed floats (<see cref="Length"/> of them).</summary>
    internal float[] Data { get; }

    /// <summary>Output channels rounded up to whole micro-kernel panels.</summary>
    internal static int PaddedRows(int outChannels) => (outChannels + Sgemm.MR - 1) / Sgemm.MR * Sgemm.MR;

    /// <summary>Floats the packed form of a [cout, depth] matrix takes.</summary>
    internal static int Length(int outChannels, int depth) => checked(PaddedRows(outChannels) * depth);

    /// <summary>Offset of depth block <paramref name="pc"/> (a multiple of KC), row panel starting at <paramref name="row"/>, whose block is <paramref name="kc"/> deep.</summary>
    internal static long Offset(int outChannels, int pc, int row, int kc) => (long)pc * PaddedRows(outChannels) + (long)row * kc;

    /// <summary>Writes the packed layout of <paramref name="w"/> [cout, depth] into <paramref name="dst"/>.</summary>
    internal static void Pack(ReadOnlySpan<float> w, int outChannels, int depth, Span<float> dst)
    {
        int mr = Sgemm.MR, kcMax = Sgemm.KC, padded = PaddedRows(outChannels);
        for (int pc = 0; pc < depth; pc += kcMax)
        {
            int kc = Math.Min(kcMax, depth - pc);
            for (int row = 0; row < padded; row += mr)
            {
                var panel = dst.Slice(checked((int)Offset(outChannels, pc, row, kc)), mr * kc);
                for (int r = 0; r < mr; r++)
                {
                    int co = row + r;
                    if (co >= outChannels)
                    {
                        for (int p = 0; p < kc; p++) panel[p * mr + r] = 0;
                        continue;
                    }
                    var src = w.Slice(co * depth + pc, kc);
                    for (int p = 0; p < kc; p++) panel[p * mr + r] = src[p];
                }
            }
        }
    }
}
