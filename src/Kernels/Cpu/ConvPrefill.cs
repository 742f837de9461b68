using System.Numerics;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>The convolutions' output prefill, shared by the im2col and implicit-GEMM kernels: their GEMMs accumulate onto it.</summary>
internal static unsafe class ConvPrefill
{
    /// <summary>
    /// yBlock[co, p] = scale · (bias[co] + residual[co, p]) for <paramref name="pixels"/> pixels of channels
    /// [<paramref name="channelStart"/>, <paramref name="channelEnd"/>); rows are <paramref name="hw"/> apart; bias and residual may be null.
    /// </summary>
    public static void Run(float* yBlock, float* residualBlock, float* bias, float scale, long hw, int pixels, int channelStart, int channelEnd)
    {
        var vs = new Vector<float>(scale);
        int lanes = Vector<float>.Count;
        for (int co = channelStart; co < channelEnd; co++)
        {
            float* dst = yBlock + co * hw;
            float b = bias is null ? 0f : bias[co];
            if (residualBlock is null)
            {
                new Span<float>(dst, pixels).Fill(b * scale);
                continue;
            }
            float* res = residualBlock + co * hw;
            var vb = new Vector<float>(b);
            int p = 0;
            for (; p <= pixels - lanes; p += lanes)
                Vector.Store((Vector.Load(res + p) + vb) * vs, dst + p);
            for (; p < pixels; p++) dst[p] = (res[p] + b) * scale;
        }
    }
}
