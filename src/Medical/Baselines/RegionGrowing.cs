using DiffusionKernels.Medical.Metrics;

namespace DiffusionKernels.Medical.Baselines;

/// <summary>Settings of <see cref="RegionGrowing"/>: seed and grow levels, and how far inside the head a seed must lie.</summary>
/// <param name="Low">Regions grow over 4-connected pixels above this level.</param>
/// <param name="High">Only regions holding a pixel above this level are kept (the seeds).</param>
/// <param name="Margin">Pixels closer than this (in pixels) to the air around the head are left out, which drops a bright skull rim.</param>
public sealed record RegionGrowingSettings(double Low, double High, double Margin);

/// <summary>
/// A lesion segmentation from the lesion contrast alone: hysteresis thresholding (regions of pixels above
/// <see cref="RegionGrowingSettings.Low"/>, 4-connected, that hold a seed above <see cref="RegionGrowingSettings.High"/>;
/// scikit-image's <c>apply_hysteresis_threshold</c>), restricted to pixels at least
/// <see cref="RegionGrowingSettings.Margin"/> pixels inside the head (air: pixels at or below <see cref="AirLevel"/>).
/// <see cref="Tune"/> picks the three settings for the best mean Dice on validation images, as its best user would.
/// </summary>
public static class RegionGrowing
{
    /// <summary>Intensity at or below which a pixel is air (the phantoms render air as 0).</summary>
    public const double AirLevel = 0.02;

    /// <summary>The masks of <paramref name="count"/> images [count, H, W] flattened.</summary>
    public static float[] Segment(ReadOnlySpan<float> images, int count, int height, int width, RegionGrowingSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        int plane = height * width;
        if (count < 1 || images.Length != (long)count * plane) throw new ArgumentException($"region growing: {images.Length} values are not {count} images of {height}×{width}");
        var masks = new float[images.Length];
        for (int n = 0; n < count; n++)
            Segment(images.Slice(n * plane, plane), height, width, settings, InsideHead(images.Slice(n * plane, plane), height, width), masks.AsSpan(n * plane, plane));
        return masks;
    }

    /// <summary>Each pixel's distance to the nearest air pixel (+∞ when the image holds no air).</summary>
    public static double[] InsideHead(ReadOnlySpan<float> image, int height, int width)
    {
        var air = new bool[image.Length];
        for (int i = 0; i < air.Length; i++) air[i] = image[i] <= AirLevel;
        return DistanceTransform.Distances(air, height, width);
    }

    /// <summary>Hysteresis regions of one image, inside the margin, into <paramref name="mask"/>.</summary>
    public static void Segment(ReadOnlySpan<float> image, int height, int width, RegionGrowingSettings s, double[] depth, Span<float> mask)
    {
        ArgumentNullException.ThrowIfNull(s);
        mask.Clear();
        var labels = new int[image.Length];
        foreach (var c in Regions(image, height, width, s.Low, s.Margin, depth, default, labels))
            if (c.Peak > s.High)
                for (int i = 0; i < labels.Length; i++)
                    if (labels[i] == c.Label) mask[i] = 1f;
    }

    /// <summary>One 4-connected region above the low level: its label, brightest value, size and overlap with the truth.</summary>
    private readonly record struct Region(int Label, float Peak, int Size, int Overlap);

    /// <summary>The regions of pixels above <paramref name="low"/> and inside the margin, labelled 1, 2, … in <paramref name="labels"/>.</summary>
    private static List<Region> Regions(ReadOnlySpan<float> image, int height, int width, double low, double margin, double[] depth, ReadOnlySpan<float> truth, int[] labels)
    {
        Array.Clear(labels);
        var regions = new List<Region>();
        var stack = new Stack<int>();
        for (int start = 0; start < image.Length; start++)
        {
            if (labels[start] != 0 || !(image[start] > low && depth[start] >= margin)) continue;
            int label = regions.Count + 1, size = 0, overlap = 0;
            float peak = float.NegativeInfinity;
            labels[start] = label;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                size++;
                if (!truth.IsEmpty && truth[i] != 0f) overlap++;
                peak = Math.Max(peak, image[i]);
                int y = i / width, x = i % width;
                for (int k = 0; k < 4; k++)
                {
                    int j = k switch { 0 => x > 0 ? i - 1 : -1, 1 => x < width - 1 ? i + 1 : -1, 2 => y > 0 ? i - width : -1, _ => y < height - 1 ? i + width : -1 };
                    if (j < 0 || labels[j] != 0 || !(image[j] > low && depth[j] >= margin)) continue;
                    labels[j] = label;
                    stack.Push(j);
                }
            }
            regions.Add(new Region(label, peak, size, overlap));
        }
        return regions;
    }

    /// <summary>
    /// The settings with the best mean Dice over <paramref name="count"/> validation images and their masks: levels on a
    /// grid of 0.0125 over the images' [1st, 99.9th] percentile range (High ≥ Low), margins 0–8 pixels. For each low level
    /// and margin the regions are found once; each high level then keeps those whose peak exceeds it.
    /// </summary>
    public static (RegionGrowingSettings Settings, double Dice) Tune(ReadOnlySpan<float> images, ReadOnlySpan<float> masks, int count, int height, int width)
    {
        int plane = height * width;
        if (count < 1 || images.Length != (long)count * plane || masks.Length != images.Length)
            throw new ArgumentException($"region growing: {images.Length} values and {masks.Length} mask values are not {count} images of {height}×{width}");
        var depths = new double[count][];
        var truthSizes = new int[count];
        for (int n = 0; n < count; n++)
        {
            depths[n] = InsideHead(images.Slice(n * plane, plane), height, width);
            foreach (var m in masks.Slice(n * plane, plane)) if (m != 0f) truthSizes[n]++;
        }
        var sorted = images.ToArray();
        Array.Sort(sorted);
        double lo = sorted[(int)(0.01 * (sorted.Length - 1))], hi = sorted[(int)(0.999 * (sorted.Length - 1))];
        const double Step = 0.0125;
        var levels = new List<double>();
        for (double t = Math.Floor(lo / Step) * Step; t <= hi; t += Step) levels.Add(t);
        var best = (Settings: new RegionGrowingSettings(hi, hi, 0), Dice: double.NegativeInfinity);
        var labels = new int[plane];
        var regions = new List<Region>[count];
        foreach (double margin in new double[] { 0, 1, 2, 3, 4, 6, 8 })
            for (int a = 0; a < levels.Count; a++)
            {
                for (int n = 0; n < count; n++)
                    regions[n] = Regions(images.Slice(n * plane, plane), height, width, levels[a], margin, depths[n], masks.Slice(n * plane, plane), labels);
                for (int b = a; b < levels.Count; b++)
                {
                    double sum = 0;
                    for (int n = 0; n < count; n++)
                    {
                        long kept = 0, overlap = 0;
                        foreach (var r in regions[n])
                            if (r.Peak > levels[b]) (kept, overlap) = (kept + r.Size, overlap + r.Overlap);
                        sum += kept + truthSizes[n] == 0 ? 1.0 : 2.0 * overlap / (kept + truthSizes[n]);
                    }
                    if (sum / count > best.Dice) best = (new RegionGrowingSettings(levels[a], levels[b], margin), sum / count);
                }
            }
        return best;
    }
}
