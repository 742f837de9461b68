namespace DiffusionKernels.Cli.Images;

/// <summary>8-bit PNGs of [N, C, H, W] float images windowed to [lo, hi], written atomically (the library's <see cref="SampleImages"/>).</summary>
internal static class ImageWriter
{
    /// <summary>One image: sample <paramref name="index"/> mapped from [lo, hi] to 0..255 (RGB for 3 channels, else the first channel).</summary>
    public static void SavePng(string path, ReadOnlySpan<float> images, int[] shape, int index, float lo, float hi) =>
        SampleImages.SavePng(path, images, shape, index, lo, hi);

    /// <summary>Most images a grid shows, and most pixels it may have.</summary>
    public const int MaxGridImages = SampleImages.MaxGridImages, MaxGridPixels = SampleImages.MaxGridPixels;

    /// <summary>The samples in a near-square grid with a 2-pixel gap (see <see cref="SampleImages.SaveGrid"/>).</summary>
    public static void SaveGrid(string path, ReadOnlySpan<float> images, int[] shape, float lo, float hi) =>
        SampleImages.SaveGrid(path, images, shape, lo, hi);
}
