namespace DiffusionKernels.Medical.Metrics;

/// <summary>PSNR and SSIM (data range 1) per image of [N, C, H, W] arrays, SSIM averaged over channels.</summary>
public static class ImageQuality
{
    /// <summary>Per-image PSNR (dB) and SSIM of <paramref name="test"/> against <paramref name="reference"/>.</summary>
    public static (double[] Psnr, double[] Ssim) PerImage(ReadOnlySpan<float> reference, ReadOnlySpan<float> test, int count, int channels, int height, int width)
    {
        ImageMetricChecks.SameLength("image quality", reference, test);
        int per = channels * height * width, plane = height * width;
        if ((long)count * per != reference.Length) throw new ArgumentException($"image quality: {reference.Length} values are not [{count}, {channels}, {height}, {width}]");
        var psnr = new double[count];
        var ssim = new double[count];
        for (int k = 0; k < count; k++)
        {
            var r = reference.Slice(k * per, per);
            var t = test.Slice(k * per, per);
            psnr[k] = Psnr.Compute(r, t, 1.0);
            double s = 0;
            for (int c = 0; c < channels; c++) s += Ssim.Compute(r.Slice(c * plane, plane), t.Slice(c * plane, plane), height, width, 1.0);
            ssim[k] = s / channels;
        }
        return (psnr, ssim);
    }

    /// <summary>Sample standard deviation (n − 1; 0 for fewer than two values).</summary>
    public static double Std(IReadOnlyList<double> v)
    {
        ArgumentNullException.ThrowIfNull(v);
        if (v.Count < 2) return 0;
        double m = v.Average();
        return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Count - 1));
    }
}
