namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// 3×3 convolution weights in the Winograd F(2×2, 3×3) domain, U = G·g·Gᵀ (4×4 per output/input channel pair),
/// stored as 16 [cout, cin] matrices, each packed in the SGEMM micro-kernel's A-panel layout (as
/// <see cref="PackedConvWeights"/>), for <see cref="WinogradConv2d"/>. Transformed in double, once per model.
/// </summary>
internal sealed class WinogradWeights
{
    /// <summary>Transforms <paramref name="weights"/> [cout, cin, 3, 3].</summary>
    /// <exception cref="ArgumentException">The span is shorter than cout·cin·9.</exception>
    public WinogradWeights(ReadOnlySpan<float> weights, int outChannels, int inChannels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        if (weights.Length < (long)outChannels * inChannels * 9)
            throw new ArgumentException($"winograd weights: [{outChannels}, {inChannels}, 3, 3] needs {(long)outChannels * inChannels * 9} floats, the span has {weights.Length}", nameof(weights));
        OutChannels = outChannels;
        InChannels = inChannels;
        MatrixLength = PackedConvWeights.Length(outChannels, inChannels);
        Data = new float[checked(16 * MatrixLength)];
        var u = new float[16 * outChannels * inChannels]; // [ξ][co][ci]
        var s = new double[4, 3];
        for (int co = 0; co < outChannels; co++)
            for (int ci = 0; ci < inChannels; ci++)
            {
                var g = weights.Slice((co * inChannels + ci) * 9, 9);
                // s = G·g (4×3), then U = s·Gᵀ (4×4); G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
                for (int j = 0; j < 3; j++)
                {
                    double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
                    s[0, j] = g0;
                    s[1, j] = (g0 + g1 + g2) / 2;
                    s[2, j] = (g0 - g1 + g2) / 2;
                    s[3, j] = g2;
                }
                for (int i = 0; i < 4; i++)
                {
                    double s0 = s[i, 0], s1 = s[i, 1], s2 = s[i, 2];
                    Span<double> row = [s0, (s0 + s1 + s2) / 2, (s0 - s1 + s2) / 2, s2];
                    for (int j = 0; j < 4; j++)
                        u[((i * 4 + j) * outChannels + co) * inChannels + ci] = (float)row[j];
                }
            }
        for (int xi = 0; xi < 16; xi++)
            PackedConvWeights.Pack(u.AsSpan(xi * outChannels * inChannels, outChannels * inChannels), outChannels, inChannels,
                Data.AsSpan(xi * MatrixLength, MatrixLength));
    }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Floats of one packed [cout, cin] matrix.</summary>
    internal int MatrixLength { get; }

    /// <summary>The 16 packed matrices, one after another.</summary>
    internal float[] Data { get; }
}
