namespace DiffusionKernels.Medical.Baselines;

/// <summary>
/// Otsu's threshold: the level that maximizes the between-class variance of a 256-bin histogram over the image's
/// [min, max], returned as the centre of the last bin of the lower class (scikit-image's <c>threshold_otsu</c>, whose
/// output it matches); the foreground is the pixels strictly above it. Written here because none of the project's
/// libraries has one.
/// </summary>
public static class Otsu
{
    /// <summary>Histogram bins, as scikit-image's default.</summary>
    public const int Bins = 256;

    /// <summary>Otsu's threshold of <paramref name="image"/>; an image of one value gives that value.</summary>
    public static double Threshold(ReadOnlySpan<float> image)
    {
        if (image.IsEmpty) throw new ArgumentException("otsu: the image is empty");
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var v in image)
        {
            if (!float.IsFinite(v)) throw new ArgumentException($"otsu: the image holds a non-finite value ({v})");
            lo = Math.Min(lo, v);
            hi = Math.Max(hi, v);
        }
        if (lo == hi) return lo;
        // NumPy's histogram: edges as linspace(lo, hi, bins + 1), the index from the scaled value then corrected by the edges.
        var edges = new double[Bins + 1];
        double step = (hi - lo) / Bins;
        for (int i = 0; i <= Bins; i++) edges[i] = lo + i * step;
        edges[Bins] = hi;
        var counts = new double[Bins];
        double norm = Bins / (hi - lo);
        foreach (var f in image)
        {
            double v = f;
            int k = Math.Min((int)((v - lo) * norm), Bins - 1);
            if (v < edges[k]) k--;
            else if (k < Bins - 1 && v >= edges[k + 1]) k++;
            counts[k]++;
        }
        var centres = new double[Bins];
        for (int i = 0; i < Bins; i++) centres[i] = (edges[i] + edges[i + 1]) / 2;
        // Class weights and means below and above each split; the split after bin i with the largest w₁·w₂·(μ₁ − μ₂)².
        var w1 = new double[Bins];
        var m1 = new double[Bins];
        double w = 0, s = 0;
        for (int i = 0; i < Bins; i++)
        {
            w += counts[i];
            s += counts[i] * centres[i];
            w1[i] = w;
            m1[i] = s / w;
        }
        var w2 = new double[Bins];
        var m2 = new double[Bins];
        w = 0;
        s = 0;
        for (int i = Bins - 1; i >= 0; i--)
        {
            w += counts[i];
            s += counts[i] * centres[i];
            w2[i] = w;
            m2[i] = s / w;
        }
        int best = 0;
        double bestVariance = double.NegativeInfinity;
        for (int i = 0; i < Bins - 1; i++)
        {
            double d = m1[i] - m2[i + 1];
            double variance = w1[i] * w2[i + 1] * d * d;
            // NaN (an empty class) never wins; ties keep the first, as argmax does.
            if (variance > bestVariance) (best, bestVariance) = (i, variance);
        }
        return centres[best];
    }

    /// <summary>1 where the pixel is above Otsu's threshold of its own image, else 0, image by image.</summary>
    public static float[] Segment(ReadOnlySpan<float> images, int count)
    {
        if (count < 1 || images.Length % count != 0) throw new ArgumentException($"otsu: {images.Length} values are not {count} images");
        int plane = images.Length / count;
        var mask = new float[images.Length];
        for (int n = 0; n < count; n++)
        {
            var image = images.Slice(n * plane, plane);
            double t = Threshold(image);
            for (int i = 0; i < plane; i++) mask[n * plane + i] = image[i] > t ? 1f : 0f;
        }
        return mask;
    }
}
