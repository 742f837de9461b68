using DiffusionKernels.Medical.Operators;

namespace DiffusionKernels.Medical.Baselines;

/// <summary>
/// Bicubic resizing with Keys' kernel (a = −0.5, which reproduces quadratics), half-pixel centres
/// (src = (dst + ½)·in/out − ½, like align_corners=False) and edge clamping; separable, rows then columns.
/// </summary>
public static class Bicubic
{
    /// <summary>Keys' cubic convolution weight at distance <paramref name="t"/>.</summary>
    public static double Kernel(double t, double a = -0.5)
    {
        t = Math.Abs(t);
        if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
        if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
        return 0;
    }

    /// <summary>Upsamples [planes, H, W] by an integer <paramref name="factor"/> to [planes, f·H, f·W].</summary>
    public static float[] Upsample(ReadOnlySpan<float> x, int planes, int height, int width, int factor)
    {
        if (factor < 1) throw new ArgumentOutOfRangeException(nameof(factor), $"bicubic: factor must be ≥ 1, found {factor}");
        return Resize(x, planes, height, width, height * factor, width * factor);
    }

    /// <summary>Resizes [planes, H, W] to [planes, outHeight, outWidth].</summary>
    public static float[] Resize(ReadOnlySpan<float> x, int planes, int height, int width, int outHeight, int outWidth)
    {
        if (planes < 1 || height < 1 || width < 1 || outHeight < 1 || outWidth < 1)
            throw new ArgumentOutOfRangeException(nameof(planes), $"bicubic: bad sizes {planes}×{height}×{width} → {outHeight}×{outWidth}");
        if (x.Length != planes * height * width) throw new ArgumentException($"bicubic: input has {x.Length} elements, expected {planes}×{height}×{width}", nameof(x));
        var (colIdx, colW) = Taps(width, outWidth);
        var (rowIdx, rowW) = Taps(height, outHeight);
        var mid = new float[planes * height * outWidth];
        for (int p = 0; p < planes; p++)
            for (int r = 0; r < height; r++)
                for (int c = 0; c < outWidth; c++)
                {
                    double s = 0;
                    for (int k = 0; k < 4; k++) s += colW[c * 4 + k] * x[(p * height + r) * width + colIdx[c * 4 + k]];
                    mid[(p * height + r) * outWidth + c] = (float)s;
                }
        var y = new float[planes * outHeight * outWidth];
        for (int p = 0; p < planes; p++)
            for (int r = 0; r < outHeight; r++)
                for (int c = 0; c < outWidth; c++)
                {
                    double s = 0;
                    for (int k = 0; k < 4; k++) s += rowW[r * 4 + k] * mid[(p * height + rowIdx[r * 4 + k]) * outWidth + c];
                    y[(p * outHeight + r) * outWidth + c] = (float)s;
                }
        return y;
    }

    private static (int[] Index, double[] Weight) Taps(int inSize, int outSize)
    {
        var idx = new int[outSize * 4];
        var w = new double[outSize * 4];
        double scale = (double)inSize / outSize;
        for (int o = 0; o < outSize; o++)
        {
            double s = (o + 0.5) * scale - 0.5;
            int i0 = (int)Math.Floor(s);
            for (int k = 0; k < 4; k++)
            {
                int i = i0 - 1 + k;
                idx[o * 4 + k] = Math.Clamp(i, 0, inSize - 1);
                w[o * 4 + k] = Kernel(s - i);
            }
        }
        return (idx, w);
    }
}
