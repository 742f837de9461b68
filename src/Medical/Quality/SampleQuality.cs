using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Medical.Quality;

/// <summary>Distances between two sets of single-channel images (values in [0, 1]); smaller is closer.</summary>
public sealed record QualityScores(double SlicedWasserstein, double HistogramW1, double SpectrumDistance)
{
    /// <summary>The three scores on one line, for logs.</summary>
    public override string ToString() => $"sliced W {SlicedWasserstein:F4} | histogram W1 {HistogramW1:F4} | power spectrum {SpectrumDistance:F4}";
}

/// <summary>
/// Sample-quality metrics that need no pretrained network: sliced Wasserstein distance between images downsampled to
/// 16×16, the 1-Wasserstein distance between pixel-intensity distributions, and the RMS difference of mean
/// radially averaged log power spectra. Each compares a generated set with a reference set.
/// </summary>
public static class SampleQuality
{
    /// <summary>Side of the downsampled images the sliced Wasserstein distance compares.</summary>
    public const int SlicedSize = 16;

    /// <summary>Scores <paramref name="a"/> against <paramref name="b"/>, both [N, size, size] with N ≥ 1.</summary>
    /// <exception cref="ArgumentException">
    /// The images are smaller than <see cref="SlicedSize"/> (the sliced distance compares 16×16 images; smaller ones would
    /// be upsampled into empty blocks), or a set is empty or not whole images.
    /// </exception>
    public static QualityScores Compare(float[] a, float[] b, int size, int projections = 256, int seed = 0)
    {
        CheckImages(a, size, nameof(a));
        CheckImages(b, size, nameof(b));
        if (size < SlicedSize)
            throw new ArgumentException($"sample quality: images of {size}×{size} are smaller than the {SlicedSize}×{SlicedSize} the sliced Wasserstein distance compares", nameof(size));
        if (projections < 1) throw new ArgumentOutOfRangeException(nameof(projections), $"sample quality: projections must be ≥ 1, found {projections}");
        return new(
            SlicedWasserstein(Downsample(a, size, SlicedSize), Downsample(b, size, SlicedSize), SlicedSize * SlicedSize, projections, seed),
            Wasserstein1(a, b),
            SpectrumDistance(a, b, size));
    }

    /// <summary>Fails unless <paramref name="images"/> holds one or more whole [size, size] images.</summary>
    private static void CheckImages(float[] images, int size, string name)
    {
        ArgumentNullException.ThrowIfNull(images, name);
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), $"sample quality: image size must be ≥ 1, found {size}");
        long plane = (long)size * size;
        if (images.Length == 0 || images.Length % plane != 0)
            throw new ArgumentException($"sample quality: {name} holds {images.Length} values, not a whole number (≥ 1) of {size}×{size} images", name);
    }

    /// <summary>The noise baseline: <paramref name="length"/> uniform values in [0, 1), the same for a given seed.</summary>
    public static float[] UniformNoise(int length, int seed = 1)
    {
        var rng = new Random(seed);
        var noise = new float[length];
        for (int i = 0; i < noise.Length; i++) noise[i] = rng.NextSingle();
        return noise;
    }

    /// <summary>Average box downsampling of [N, size, size] to [N, target, target] (size a multiple of target, else nearest block).</summary>
    public static float[] Downsample(float[] images, int size, int target)
    {
        CheckImages(images, size, nameof(images));
        if (target < 1 || target > size)
            throw new ArgumentOutOfRangeException(nameof(target), $"sample quality: cannot downsample {size}×{size} images to {target}×{target}");
        int n = images.Length / (size * size);
        var result = new float[n * target * target];
        for (int k = 0; k < n; k++)
            for (int i = 0; i < target; i++)
                for (int j = 0; j < target; j++)
                {
                    int y0 = i * size / target, y1 = (i + 1) * size / target, x0 = j * size / target, x1 = (j + 1) * size / target;
                    double s = 0;
                    for (int y = y0; y < y1; y++)
                        for (int x = x0; x < x1; x++) s += images[k * size * size + y * size + x];
                    result[k * target * target + i * target + j] = (float)(s / ((y1 - y0) * (x1 - x0)));
                }
        return result;
    }

    /// <summary>Mean over random unit directions of the 1-D Wasserstein-1 distance between the projected sets.</summary>
    public static double SlicedWasserstein(float[] a, float[] b, int dim, int projections, int seed)
    {
        var rng = new Random(seed);
        int na = a.Length / dim, nb = b.Length / dim;
        double total = 0;
        var pa = new double[na];
        var pb = new double[nb];
        var dir = new double[dim];
        for (int p = 0; p < projections; p++)
        {
            double norm = 0;
            for (int d = 0; d < dim; d++)
            {
                double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
                dir[d] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                norm += dir[d] * dir[d];
            }
            norm = Math.Sqrt(norm);
            for (int k = 0; k < na; k++) pa[k] = Dot(a, k * dim, dir, dim) / norm;
            for (int k = 0; k < nb; k++) pb[k] = Dot(b, k * dim, dir, dim) / norm;
            total += Wasserstein1(pa, pb);
        }
        return total / projections;
    }

    /// <summary>W1 between two empirical 1-D distributions: the integral of |F_a − F_b|.</summary>
    public static double Wasserstein1(float[] a, float[] b) => Wasserstein1(a.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray());

    /// <summary>W1 between two empirical 1-D distributions (each array one sample set): the integral of |F_a − F_b|.</summary>
    public static double Wasserstein1(double[] a, double[] b)
    {
        var sa = (double[])a.Clone();
        var sb = (double[])b.Clone();
        Array.Sort(sa);
        Array.Sort(sb);
        // Walk both sorted samples, integrating |F_a(x) − F_b(x)| between consecutive breakpoints.
        int i = 0, j = 0;
        double w = 0, x = Math.Min(sa[0], sb[0]);
        while (i < sa.Length || j < sb.Length)
        {
            double next = j >= sb.Length || (i < sa.Length && sa[i] <= sb[j]) ? sa[i] : sb[j];
            w += Math.Abs((double)i / sa.Length - (double)j / sb.Length) * (next - x);
            x = next;
            if (i < sa.Length && sa[i] == next) i++;
            else j++;
        }
        return w;
    }

    /// <summary>Mean radially averaged power spectrum of [N, size, size] images, log10, one value per integer radius.</summary>
    /// <remarks>The orthonormal 2-D FFT of the kernel layer (<see cref="Fft2d"/>), a band of images at a time.</remarks>
    public static double[] RadialLogSpectrum(float[] images, int size)
    {
        CheckImages(images, size, nameof(images));
        int n = images.Length / (size * size), radii = size / 2, plane = size * size;
        var sums = new double[radii];
        var counts = new int[radii];
        int band = Math.Min(n, SpectrumBand);
        var re = new float[band * plane];
        var im = new float[band * plane];
        for (int first = 0; first < n; first += band)
        {
            int count = Math.Min(band, n - first);
            var layout = new Fft2dLayout
            {
                Batch = count,
                Channels = 1,
                Height = size,
                Width = size,
                RealInput = 1,
                InBatchStride = plane,
                OutBatchStride = plane,
            };
            Fft2d.Transform(images.AsSpan(first * plane, count * plane), default, re, im, layout, inverse: false);
            for (int k = 0; k < count; k++)
                for (int y = 0; y < size; y++)
                    for (int x = 0; x < size; x++)
                    {
                        int fy = y <= size / 2 ? y : y - size, fx = x <= size / 2 ? x : x - size;
                        int r = (int)Math.Round(Math.Sqrt(fy * fy + fx * fx));
                        if (r >= radii) continue;
                        int at = k * plane + y * size + x;
                        sums[r] += (double)re[at] * re[at] + (double)im[at] * im[at];
                        counts[r]++;
                    }
        }
        return sums.Select((s, r) => Math.Log10(s / Math.Max(1, counts[r]) + 1e-12)).ToArray();
    }

    /// <summary>Images per FFT call of <see cref="RadialLogSpectrum"/> (bounds its scratch memory).</summary>
    private const int SpectrumBand = 64;

    /// <summary>RMS difference of the two sets' mean log power spectra over radii 1 … size/2 − 1.</summary>
    public static double SpectrumDistance(float[] a, float[] b, int size)
    {
        // Radii 1 … size/2 − 1 must hold at least one ring.
        if (size < 4) throw new ArgumentOutOfRangeException(nameof(size), $"sample quality: the power spectrum distance needs images of at least 4×4, found {size}×{size}");
        var sa = RadialLogSpectrum(a, size);
        var sb = RadialLogSpectrum(b, size);
        double s = 0;
        for (int r = 1; r < sa.Length; r++) s += (sa[r] - sb[r]) * (sa[r] - sb[r]);
        return Math.Sqrt(s / (sa.Length - 1));
    }

    private static double Dot(float[] x, int offset, double[] dir, int dim)
    {
        double s = 0;
        for (int d = 0; d < dim; d++) s += x[offset + d] * dir[d];
        return s;
    }
}
