using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli;

/// <summary>
/// The condition images of an image-conditioned model, as <c>--condition</c> gives them: an .npy [N, C, H, W] (or one
/// [C, H, W]) or one PNG, in [0, 1] like the phantoms and masks, mapped to the model's [−1, 1] (2x − 1: the units the
/// conditional models here are trained in).
/// </summary>
internal static class ConditionImages
{
    /// <summary>Reads and checks <paramref name="path"/> against one condition's <paramref name="shape"/> [C, H, W]; the errors name the option and the file.</summary>
    public static float[] Read(string option, string path, int[] shape, bool allowNonFinite)
    {
        float[] values;
        int[] found;
        if (path.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
        {
            if (shape[0] is not (1 or 3)) throw new ArgumentException($"{option} {path}: a PNG gives 1 or 3 channels, the model takes {shape[0]} condition channels; give an .npy [N, {shape[0]}, H, W]");
            (values, found) = SampleImages.ReadPng(path, shape[0]);
            found = [1, .. found];
        }
        else
        {
            var npy = Npy.Read(path);
            values = npy.AsFloat32();
            found = npy.Shape.Length == 3 ? [1, .. npy.Shape] : npy.Shape;
        }
        if (found.Length != 4) throw new ShapeMismatchException($"{option} {path}: conditions must be [N, C, H, W] (or one [C, H, W]), found {Shape.Format(found)}");
        if (found[0] < 1) throw new ShapeMismatchException($"{option} {path}: holds no condition ({Shape.Format(found)})");
        if (found[1] != shape[0])
            throw new ShapeMismatchException($"{option} {path}: {found[1]} channels per condition, but the model takes {shape[0]} (in_channels − out_channels); found {Shape.Format(found)}");
        if (found[2] != shape[1] || found[3] != shape[2])
            throw new ShapeMismatchException($"{option} {path}: conditions are {found[2]}×{found[3]}, the model's images are {shape[1]}×{shape[2]}");
        CommonOptions.RequireFinite($"{option} {path}", values, allowNonFinite);
        var model = new float[values.Length];
        for (int i = 0; i < values.Length; i++) model[i] = values[i] * 2 - 1;
        return model;
    }
}
