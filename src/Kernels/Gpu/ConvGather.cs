using ILGPU;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// The convolution kernels' input read, shared by the fp32 and TF32 gathers: one tap of the input as the conv sees it,
/// through a nearest ×2 upsample (<see cref="Conv2dGeometry.InputShift"/>) and across a channel concat
/// (<see cref="Conv2dGeometry.SkipChannels"/>), so neither is ever materialised.
/// </summary>
internal static class ConvGather
{
    /// <summary>
    /// Input channel <paramref name="ci"/> of sample <paramref name="image"/> at (iy, ix), which the caller has checked
    /// lie inside the seen map [0, Height) × [0, Width). Channels [0, InChannels − SkipChannels) are x's, the rest are
    /// skip's; both hold the map at Height / Width shifted right by InputShift.
    /// </summary>
    public static float Load(ArrayView<float> x, ArrayView<float> skip, Conv2dGeometry g, int image, int ci, int iy, int ix)
    {
        int srcHeight = g.Height >> g.InputShift, srcWidth = g.Width >> g.InputShift;
        int pixel = (iy >> g.InputShift) * srcWidth + (ix >> g.InputShift);
        int xChannels = g.InChannels - g.SkipChannels;
        return ci < xChannels
            ? x[(image * xChannels + ci) * srcHeight * srcWidth + pixel]
            : skip[(image * g.SkipChannels + ci - xChannels) * srcHeight * srcWidth + pixel];
    }

    /// <summary>
    /// The im2col element at <paramref name="taps"/>' current row for the output pixel whose tap (0, 0) reads input
    /// (<paramref name="iyBase"/>, <paramref name="ixBase"/>) of sample <paramref name="image"/>: 0 for a padding tap.
    /// </summary>
    public static float LoadTap<TTaps>(ArrayView<float> x, ArrayView<float> skip, Conv2dGeometry g, int image, int iyBase, int ixBase, TTaps taps)
        where TTaps : struct, IConvTaps
    {
        int iy = iyBase + taps.TapRow, ix = ixBase + taps.TapColumn;
        // Height and Width are the sizes the taps see (an upsampled input is stored at half of them).
        return iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width ? Load(x, skip, g, image, taps.Channel, iy, ix) : 0f;
    }
}
