using System.Globalization;
using DiffusionKernels.Cli.Images;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli.Commands;

/// <summary>Reading and checking the image and mask files of the medical commands, and writing their image panels.</summary>
internal static class MedicalInputs
{
    /// <summary>The number of images N in an [N, ...] .npy file (at least 1).</summary>
    public static int Count(string path, string option = "--input")
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{option}: {path} does not exist");
        var a = Npy.Read(path);
        if (a.Shape.Length != 4 || a.Shape[0] < 1) throw new ShapeMismatchException($"{option} {path}: expected images [N, C, H, W] with N ≥ 1, found {Shape.Format(a.Shape)}");
        return a.Shape[0];
    }

    /// <summary>
    /// Reads [N, C, H, W] images in [0, 1] that must match the model's sample shape. NaN or Inf is an error unless
    /// <paramref name="allowNonFinite"/> (then a warning, and only the finite values are range-checked).
    /// </summary>
    public static (float[] Images, int Count) Images(string path, int[] sampleShape, string option = "--input", bool allowNonFinite = false)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{option}: {path} does not exist");
        var a = Npy.Read(path);
        if (a.Shape.Length != 4 || !a.Shape.AsSpan(1).SequenceEqual(sampleShape))
            throw new ShapeMismatchException($"{option} {path}: expected images [N, {string.Join(", ", sampleShape)}] (the model's sample shape), found {Shape.Format(a.Shape)}");
        if (a.Shape[0] < 1) throw new ShapeMismatchException($"{option} {path}: holds no images");
        var v = a.AsFloat32();
        CommonOptions.RequireFinite($"{option} {path}", v, allowNonFinite);
        for (int i = 0; i < v.Length; i++)
            if (float.IsFinite(v[i]) && !(v[i] >= -1e-3f && v[i] <= 1.001f))
                throw new ArgumentException($"{option} {path}: images must be in [0, 1] (found {v[i].ToString(CultureInfo.InvariantCulture)} at flat index {i})");
        return (v, a.Shape[0]);
    }

    /// <summary>
    /// Reads a 0/1 mask of [H, W], [1, 1, H, W] or [N, 1, H, W] and returns it as one [H, W] plane per image ([N, 1, H, W]).
    /// </summary>
    public static float[] Masks(string path, int count, int height, int width, string option)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{option}: {path} does not exist");
        var a = Npy.Read(path);
        var s = a.Shape;
        bool shared = (s.Length == 2 && s[0] == height && s[1] == width) || (s.Length == 4 && s[0] == 1 && s[1] == 1 && s[2] == height && s[3] == width);
        bool perImage = s.Length == 4 && s[0] == count && s[1] == 1 && s[2] == height && s[3] == width;
        if (!shared && !perImage)
            throw new ShapeMismatchException($"{option} {path}: expected a mask [{height}, {width}], [1, 1, {height}, {width}] or [{count}, 1, {height}, {width}], found {Shape.Format(s)}");
        var v = a.AsFloat32();
        foreach (var x in v)
            if (x != 0f && x != 1f) throw new ArgumentException($"{option} {path}: mask values must be 0 or 1, found {x.ToString(CultureInfo.InvariantCulture)}");
        if (perImage && !shared) return v;
        var all = new float[count * height * width];
        for (int k = 0; k < count; k++) v.CopyTo(all, k * height * width);
        return all;
    }

    /// <summary>
    /// Refuses, before the run, host results that cannot fit: <paramref name="arrays"/> arrays of
    /// <paramref name="count"/> images of <paramref name="sampleShape"/> at once (each must also fit one .NET array).
    /// </summary>
    public static void EnsureResultsFit(string what, int count, int[] sampleShape, long arrays)
    {
        long per = MemoryBudget.Elements(what, [.. sampleShape.Select(d => (long)d)]);
        MemoryBudget.HostArray(what, MemoryBudget.Elements(what, count, per));
        MemoryBudget.EnsureHost(what, MemoryBudget.Elements(what, arrays, count, per, sizeof(float)));
    }

    /// <summary>
    /// Checks results before anything is written: NaN or Inf in any of them is a <see cref="NumericalInstabilityException"/>
    /// (exit code 3, nothing written) naming the file, unless <paramref name="allow"/> (then a warning with the count).
    /// </summary>
    public static void RequireFiniteResults(bool allow, params (string File, float[]? Values)[] results)
    {
        foreach (var (file, values) in results)
        {
            if (values is null) continue;
            int bad = 0;
            foreach (var v in values) if (!float.IsFinite(v)) bad++;
            if (bad == 0) continue;
            if (!allow) throw new NumericalInstabilityException($"{file} would hold {bad} NaN/Inf value{(bad > 1 ? "s" : "")}; nothing was written (--allow-nonfinite writes them)");
            CommonOptions.RequireFinite(file, values, allow: true);
        }
    }

    /// <summary>
    /// Fails before the run when the model's images are too small for the SSIM the command reports (one whole window).
    /// </summary>
    public static void RequireSsimSize(string command, int[] sampleShape)
    {
        int h = sampleShape[^2], w = sampleShape[^1];
        if (h < Ssim.MinSize || w < Ssim.MinSize)
            throw new ArgumentException($"{command}: the model's {h}×{w} images are smaller than the {Ssim.MinSize}×{Ssim.MinSize} that SSIM, which it reports, needs");
    }

    /// <summary>Model units (data·2 − 1) from [0, 1].</summary>
    public static float[] ToModel(ReadOnlySpan<float> x) => Medical.Inverse.Measurements.ToModel(x);

    /// <summary>[0, 1] scale from model units, not clamped (PNGs clamp for display only).</summary>
    public static float[] FromModel(ReadOnlySpan<float> x) => Medical.Inverse.Measurements.FromModel(x);

    /// <summary>Fails with a message naming <paramref name="option"/> unless <paramref name="value"/> is in [min, max].</summary>
    public static int InRange(string option, int value, int min, int max) =>
        value >= min && value <= max ? value : throw new ArgumentException($"{option} must be in [{min}, {max}], found {value}");

    /// <summary>Fails with a message naming <paramref name="option"/> unless <paramref name="value"/> is finite and in [min, max].</summary>
    public static double InRange(string option, double value, double min, double max) =>
        double.IsFinite(value) && value >= min && value <= max ? value
            : throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{option} must be a finite number in [{min}, {max}], found {value}"));

    /// <summary>Fails with a message naming <paramref name="option"/> unless <paramref name="value"/> is finite, above <paramref name="min"/> and at most <paramref name="max"/>.</summary>
    public static double AboveAtMost(string option, double value, double min, double max) =>
        double.IsFinite(value) && value > min && value <= max ? value
            : throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{option} must be a finite number in ({min}, {max}], found {value}"));

    /// <summary>Mean ± std over images of PSNR and SSIM (data range 1) of <paramref name="test"/> against <paramref name="reference"/>.</summary>
    public static (double Psnr, double PsnrStd, double Ssim, double SsimStd) Quality(float[] reference, float[] test, int count, int channels, int height, int width)
    {
        var (psnr, ssim) = ImageQuality.PerImage(reference, test, count, channels, height, width);
        return (psnr.Average(), ImageQuality.Std(psnr), ssim.Average(), ImageQuality.Std(ssim));
    }

    /// <summary>Writes name_NNNN.png for every image of <paramref name="images"/> [N, C, H, W] shown from lo to hi, and name_grid.png.</summary>
    public static void SavePanels(string folder, string name, float[] images, int[] shape, float lo, float hi)
    {
        ImageWriter.SaveGrid(Path.Combine(folder, $"{name}_grid.png"), images, shape, lo, hi);
        for (int k = 0; k < shape[0]; k++) ImageWriter.SavePng(Path.Combine(folder, $"{name}_{k:D4}.png"), images, shape, k, lo, hi);
    }
}
