using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli;

/// <summary>Images to start img2img from, in [0, 1]: an .npy [N, C, H, W], or one PNG that every sample starts from.</summary>
/// <param name="Values">The pixels, flattened.</param>
/// <param name="Shape">Their shape: the .npy's, or [C, H, W] of the PNG.</param>
/// <param name="Single">Whether this is one image for every sample (a PNG).</param>
internal sealed record InitImages(float[] Values, int[] Shape, bool Single)
{
    /// <summary>Reads <paramref name="path"/>: a PNG (by its extension) as <paramref name="channels"/> channels (1 grey, 3 RGB), else an .npy.</summary>
    public static InitImages Read(string path, int channels)
    {
        if (!path.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
        {
            var npy = Npy.Read(path);
            return new InitImages(npy.AsFloat32(), npy.Shape, Single: false);
        }
        if (channels is not (1 or 3)) throw new ArgumentException($"{path}: a PNG --init-image needs a model with 1 or 3 channels, this one has {channels}; give an .npy");
        var (pixels, shape) = SampleImages.ReadPng(path, channels);
        return new InitImages(pixels, shape, Single: true);
    }
}
