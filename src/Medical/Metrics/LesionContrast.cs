namespace DiffusionKernels.Medical.Metrics;

/// <summary>
/// How much of a lesion's contrast a reconstruction keeps: contrast C = mean(lesion) − mean(surround), the surround
/// being the pixels within <c>ring</c> pixels (Chebyshev distance) of the lesion mask but outside it, and
/// retention = C(reconstruction)/C(truth) pooled over the images (Σ C_recon / Σ C_truth, so one faint lesion cannot
/// blow the ratio up). 1 keeps the lesion, 0 erases it.
/// </summary>
public static class LesionContrast
{
    /// <summary>C of each image [N, H, W] with lesion masks [N, H, W] (NaN for an image without lesion).</summary>
    public static double[] Contrasts(ReadOnlySpan<float> images, ReadOnlySpan<float> masks, int count, int height, int width, int ring = 3)
    {
        ImageMetricChecks.SameLength("lesion contrast", images, masks, nameof(images), nameof(masks));
        ImageMetricChecks.Binary("lesion contrast", masks, nameof(masks));
        if ((long)count * height * width != images.Length) throw new ArgumentException($"lesion contrast: {images.Length} values are not {count}×{height}×{width}");
        if (ring < 1) throw new ArgumentOutOfRangeException(nameof(ring), $"lesion contrast: ring must be ≥ 1, found {ring}");
        int plane = height * width;
        var result = new double[count];
        for (int k = 0; k < count; k++)
        {
            var m = masks.Slice(k * plane, plane);
            var x = images.Slice(k * plane, plane);
            double inside = 0, outside = 0;
            long nIn = 0, nOut = 0;
            for (int r = 0; r < height; r++)
                for (int c = 0; c < width; c++)
                {
                    int at = r * width + c;
                    if (m[at] != 0f) { inside += x[at]; nIn++; continue; }
                    bool near = false;
                    for (int dr = -ring; dr <= ring && !near; dr++)
                        for (int dc = -ring; dc <= ring && !near; dc++)
                        {
                            int rr = r + dr, cc = c + dc;
                            if (rr >= 0 && rr < height && cc >= 0 && cc < width && m[rr * width + cc] != 0f) near = true;
                        }
                    if (near) { outside += x[at]; nOut++; }
                }
            result[k] = nIn == 0 || nOut == 0 ? double.NaN : inside / nIn - outside / nOut;
        }
        return result;
    }

    /// <summary>Pooled retention Σ C(reconstruction) / Σ C(truth) over the images that have lesions.</summary>
    public static double Retention(ReadOnlySpan<float> truth, ReadOnlySpan<float> reconstruction, ReadOnlySpan<float> masks, int count, int height, int width, int ring = 3)
    {
        var ct = Contrasts(truth, masks, count, height, width, ring);
        var cr = Contrasts(reconstruction, masks, count, height, width, ring);
        double st = 0, sr = 0;
        for (int k = 0; k < count; k++)
            if (!double.IsNaN(ct[k])) { st += ct[k]; sr += cr[k]; }
        if (st == 0) throw new ArgumentException("lesion contrast: the truth has no lesion contrast");
        return sr / st;
    }
}
