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
}
