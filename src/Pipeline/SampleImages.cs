using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using StbImageSharp;
using StbImageWriteSharp;

namespace DiffusionKernels;

/// <summary>
/// 8-bit PNGs of [N, C, H, W] float images windowed to [lo, hi] (RGB for 3 channels, else the first channel in grey),
/// written atomically, and PNGs read back as [C, H, W] floats in [0, 1].
/// </summary>
/// <remarks>Thread safety: stateless; any number of threads may call it.</remarks>
public static class SampleImages
{
    /// <summary>Most images a grid shows, and most pixels it may have (one byte per channel each).</summary>
    public const int MaxGridImages = 1024, MaxGridPixels = 1 << 28;

    /// <summary>One image: sample <paramref name="index"/> mapped from [lo, hi] to 0..255.</summary>
    /// <exception cref="ArgumentException">The shape is not [N, C, H, W] or does not match the data, or the index is out of range.</exception>
    public static void SavePng(string path, ReadOnlySpan<float> images, int[] shape, int index, float lo = -1f, float hi = 1f)
    {
        int channels = CheckShape(images, shape);
        if (index < 0 || index >= shape[0]) throw new ArgumentOutOfRangeException(nameof(index), $"sample {index} of {shape[0]}");
        int h = shape[2], w = shape[3];
        var pixels = new byte[h * w * channels];
        var src = images.Slice(index * shape[1] * h * w, shape[1] * h * w);
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < h * w; i++)
                pixels[i * channels + c] = ToByte(src[c * h * w + i], lo, hi);
        Save(path, pixels, w, h, channels);
    }

    /// <summary>
    /// The samples in a near-square grid with a 2-pixel gap: the first <see cref="MaxGridImages"/> of them, fewer where
    /// large images would make the grid exceed <see cref="MaxGridPixels"/> (at least one).
    /// </summary>
    /// <exception cref="ArgumentException">The shape is not [N, C, H, W] or does not match the data.</exception>
    public static void SaveGrid(string path, ReadOnlySpan<float> images, int[] shape, float lo = -1f, float hi = 1f)
    {
        int channels = CheckShape(images, shape);
        int h = shape[2], w = shape[3], gap = 2;
        long perImage = (long)(h + gap) * (w + gap) * channels;
        int n = (int)Math.Max(1, Math.Min(Math.Min(shape[0], MaxGridImages), MaxGridPixels / perImage));
        int cols = (int)Math.Ceiling(Math.Sqrt(n)), rows = (n + cols - 1) / cols;
        int width = cols * (w + gap) + gap, height = rows * (h + gap) + gap;
        var pixels = new byte[width * height * channels];
        Array.Fill(pixels, (byte)40);
        for (int k = 0; k < n; k++)
        {
            int ox = gap + k % cols * (w + gap), oy = gap + k / cols * (h + gap);
            var src = images.Slice(k * shape[1] * h * w, shape[1] * h * w);
            for (int c = 0; c < channels; c++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        pixels[((oy + y) * width + ox + x) * channels + c] = ToByte(src[c * h * w + y * w + x], lo, hi);
        }
        Save(path, pixels, width, height, channels);
    }

    /// <summary>
    /// A PNG (8 or 16 bits, any colour type) as [<paramref name="channels"/>, H, W] floats in [0, 1]: 1 channel is its grey
    /// level, 3 its RGB (alpha dropped).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="channels"/> is not 1 or 3, or the file is not a readable PNG (the message names it).</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static (float[] Pixels, int[] Shape) ReadPng(string path, int channels = 1)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), $"a PNG reads as 1 (grey) or 3 (RGB) channels, found {channels}");
        ImageResult image;
        using (var stream = RegularFile.OpenRead(path, "image"))
        {
            try
            {
                image = ImageResult.FromStream(stream, channels == 1 ? StbImageSharp.ColorComponents.Grey : StbImageSharp.ColorComponents.RedGreenBlue);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or NotSupportedException)
            {
                throw new ArgumentException($"{path}: not a readable PNG image ({e.Message})", nameof(path), e);
            }
        }
        int h = image.Height, w = image.Width;
        var pixels = new float[channels * h * w];
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < h * w; i++)
                pixels[c * h * w + i] = image.Data[i * channels + c] / 255f;
        return (pixels, [channels, h, w]);
    }

    private static int CheckShape(ReadOnlySpan<float> images, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length != 4 || shape.Any(d => d < 1)) throw new ArgumentException($"images must be [N, C, H, W], found {Shape.Format(shape)}", nameof(shape));
        if (shape.Aggregate(1L, (a, d) => a * d) != images.Length)
            throw new ArgumentException($"shape {Shape.Format(shape)} does not match {images.Length} values", nameof(shape));
        return shape[1] == 3 ? 3 : 1;
    }

    private static byte ToByte(float v, float lo, float hi) =>
        float.IsNaN(v) ? (byte)0 : (byte)Math.Clamp(MathF.Round((v - lo) / (hi - lo) * 255f), 0f, 255f);

    private static void Save(string path, byte[] pixels, int width, int height, int channels) =>
        AtomicFile.Write(path, s => new ImageWriter().WritePng(pixels, width, height,
            channels == 3 ? StbImageWriteSharp.ColorComponents.RedGreenBlue : StbImageWriteSharp.ColorComponents.Grey, s));
}
