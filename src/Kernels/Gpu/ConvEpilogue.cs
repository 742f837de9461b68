using System.Runtime.CompilerServices;
using ILGPU;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// The epilogue every convolution kernel shares (fp32 direct and tiled, TF32, 3xTF32, fp16/bf16, the split-K
/// reduction): y = (acc + bias + sampleBias + residual) · scale, added in that order so all of them round alike, with
/// the output of the implicit GEMM's flattened N·Ho·Wo pixel axis mapped back to NCHW. The counterpart of
/// <see cref="GemmKernels.Epilogue"/> for the GEMMs.
/// </summary>
internal static class ConvEpilogue
{
    /// <summary>Index of (pixel, channel 0) in y, or −1 past the last pixel.</summary>
    public static int OutputBase(int pixel, int hw, int pixels, int channels)
    {
        if (pixel >= pixels) return -1;
        int image = pixel / hw;
        return image * channels * hw + pixel - image * hw;
    }

    /// <summary>Where a pixel's sample starts in sampleBias (0 when there is none; past the last pixel it is never read).</summary>
    public static int SampleBiasRow(int pixel, int hw, Conv2dGeometry g) => g.HasSampleBias != 0 ? pixel / hw * g.SampleBiasStride : 0;

    /// <summary>(acc + bias + sample bias + residual) · scale for output element <paramref name="i"/> of <paramref name="channel"/>; each term read only when flagged.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Apply(ArrayView<float> bias, ArrayView<float> sampleBias, ArrayView<float> residual, Conv2dGeometry g,
        int channel, int sampleBiasRow, int i, float acc)
    {
        float v = acc;
        if (g.HasBias != 0) v += bias[channel];
        if (g.HasSampleBias != 0) v += sampleBias[sampleBiasRow + channel];
        if (g.HasResidual != 0) v += residual[i];
        return v * g.Scale;
    }

    /// <summary>Writes one output (channel, pixel at <paramref name="outBase"/>) through the epilogue; nothing past the last pixel or channel.</summary>
    public static void Store(ArrayView<float> y, ArrayView<float> bias, ArrayView<float> sampleBias, ArrayView<float> residual, Conv2dGeometry g,
        int channel, int hw, int outBase, int sampleBiasRow, float acc)
    {
        if (outBase < 0 || channel >= g.OutChannels) return;
        int i = outBase + channel * hw;
        y[i] = Apply(bias, sampleBias, residual, g, channel, sampleBiasRow, i, acc);
    }

    /// <summary>
    /// A warp's 32 (channels) × 32 (pixels) tensor-core block: lane (g, t) holds channels c, c + 8 (+ 16) and pixels
    /// q, q + 1 of each <c>m16n8</c> accumulator, 8 pixels apart across a row of accumulators.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreWarpTile(ArrayView<float> y, ArrayView<float> bias, ArrayView<float> sampleBias, ArrayView<float> residual, Conv2dGeometry g,
        int c, int q, int hw, int pixels, in WarpTile acc)
    {
        StoreColumns(y, bias, sampleBias, residual, g, c, q, hw, pixels, acc.D00, acc.D10);
        StoreColumns(y, bias, sampleBias, residual, g, c, q + 8, hw, pixels, acc.D01, acc.D11);
        StoreColumns(y, bias, sampleBias, residual, g, c, q + 16, hw, pixels, acc.D02, acc.D12);
        StoreColumns(y, bias, sampleBias, residual, g, c, q + 24, hw, pixels, acc.D03, acc.D13);
    }

    /// <summary>The two pixels q, q + 1 of the accumulators of rows c (top) and c + 16 (bottom).</summary>
    public static void StoreColumns(ArrayView<float> y, ArrayView<float> bias, ArrayView<float> sampleBias, ArrayView<float> residual, Conv2dGeometry g,
        int c, int q, int hw, int pixels, MmaAccumulator top, MmaAccumulator bottom)
    {
        int out0 = OutputBase(q, hw, pixels, g.OutChannels), out1 = OutputBase(q + 1, hw, pixels, g.OutChannels);
        int row0 = SampleBiasRow(q, hw, g), row1 = SampleBiasRow(q + 1, hw, g);
        Store(y, bias, sampleBias, residual, g, c, hw, out0, row0, top.C0);
        Store(y, bias, sampleBias, residual, g, c, hw, out1, row1, top.C1);
        Store(y, bias, sampleBias, residual, g, c + 8, hw, out0, row0, top.C2);
        Store(y, bias, sampleBias, residual, g, c + 8, hw, out1, row1, top.C3);
        Store(y, bias, sampleBias, residual, g, c + 16, hw, out0, row0, bottom.C0);
        Store(y, bias, sampleBias, residual, g, c + 16, hw, out1, row1, bottom.C1);
        Store(y, bias, sampleBias, residual, g, c + 24, hw, out0, row0, bottom.C2);
        Store(y, bias, sampleBias, residual, g, c + 24, hw, out1, row1, bottom.C3);
    }
}
