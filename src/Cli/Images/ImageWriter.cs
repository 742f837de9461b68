using DiffusionKernels.Runtime.IO;
using StbImageWriteSharp;

namespace DiffusionKernels.Cli.Images;

/// <summary>8-bit grayscale PNGs of [N, C, H, W] float images (first channel), windowed to [lo, hi], written atomically.</summary>
public static class ImageWriter
{
    /// <summary>One image: sample <paramref name="index"/>'s first channel mapped from [lo, hi] to 0..255.</summary>
    public static void SavePng(string path, ReadOnlySpan<float> images, int[] shape, int index, float lo, float hi)
    {
        int h = shape[2], w = shape[3];
        var pixels = new byte[h * w];
        var src = images.Slice(index * shape[1] * h * w, h * w);
        for (int i = 0; i < pixels.Length; i++) pixels[i] = ToByte(src[i], lo, hi);
        Save(path, pixels, w, h);
    }

    /// <summary>Most images a grid shows, and most pixels it may have (one byte each).</summary>
    public const int MaxGridImages = 1024, MaxGridPixels = 1 << 28;

    /// <summary>
    /// The samples in a near-square grid with a 2-pixel gap: the first <see cref="MaxGridImages"/> of them, fewer where
    /// large images would make the grid exceed <see cref="MaxGridPixels"/> (at least one).
    /// </summary>
    public static void SaveGrid(string path, ReadOnlySpan<float> images, int[] shape, float lo, float hi)
    {
        int h = shape[2], w = shape[3], gap = 2;
        long perImage = (long)(h + gap) * (w + gap);
        int n = (int)Math.Max(1, Math.Min(Math.Min(shape[0], MaxGridImages), MaxGridPixels / perImage));
        int cols = (int)Math.Ceiling(Math.Sqrt(n)), rows = (n + cols - 1) / cols;
        int width = cols * (w + gap) + gap, height = rows * (h + gap) + gap;
        var pixels = new byte[width * height];
        Array.Fill(pixels, (byte)40);
        for (int k = 0; k < n; k++)
        {
            int ox = gap + k % cols * (w + gap), oy = gap + k / cols * (h + gap);
            var src = images.Slice(k * shape[1] * h * w, h * w);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    pixels[(oy + y) * width + ox + x] = ToByte(src[y * w + x], lo, hi);
        }
        Save(path, pixels, width, height);
    }

    private static byte ToByte(float v, float lo, float hi) =>
        float.IsNaN(v) ? (byte)0 : (byte)Math.Clamp(MathF.Round((v - lo) / (hi - lo) * 255f), 0f, 255f);

    private static void Save(string path, byte[] pixels, int width, int height) =>
        AtomicFile.Write(path, s => new StbImageWriteSharp.ImageWriter().WritePng(pixels, width, height, ColorComponents.Grey, s));
}
