using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Medical.Operators;

/// <summary>
/// Cartesian undersampling masks over phase-encode rows, after fastMRI's <c>RandomMaskFunc</c> and
/// <c>EquispacedMaskFractionFunc</c>: round(H·centerFraction) central rows fully sampled, the rest chosen so that about
/// H/acceleration rows are sampled in all. Masks are [H, W] float 0/1 (whole rows), laid out like the FFT's output
/// (DC row 0, no fftshift): they are built in centred order and ifftshifted. Deterministic per seed.
/// </summary>
public static class MriMasks
{
    /// <summary>fastMRI's centre fraction for 4× acceleration.</summary>
    public const double CenterFraction4x = 0.08;
    /// <summary>fastMRI's centre fraction for 8× acceleration.</summary>
    public const double CenterFraction8x = 0.04;

    /// <summary>The fastMRI centre fraction for <paramref name="acceleration"/> 4 or 8.</summary>
    public static double DefaultCenterFraction(int acceleration) => acceleration switch
    {
        4 => CenterFraction4x,
        8 => CenterFraction8x,
        _ => throw new ArgumentOutOfRangeException(nameof(acceleration), $"mri mask: no default centre fraction for acceleration {acceleration} (4 or 8); pass centerFraction"),
    };

    /// <summary>Number of fully sampled centre rows: round(H·centerFraction) (half to even, as numpy).</summary>
    public static int CenterLines(int height, double centerFraction) => (int)Math.Round(height * centerFraction, MidpointRounding.ToEven);

    /// <summary>Random rows, each outside the centre sampled with probability (H/acc − centre)/(H − centre).</summary>
    public static float[] Random(int height, int width, int acceleration, ulong seed, double? centerFraction = null)
    {
        double fraction = Check(height, width, acceleration, centerFraction);
        int low = CenterLines(height, fraction);
        double p = (height / (double)acceleration - low) / (height - low);
        var rng = new SplitMix64(seed ^ 0x6D52495F4D41534BUL);
        var centred = new bool[height];
        for (int i = 0; i < height; i++) centred[i] = rng.NextDouble() < p;
        return Build(centred, low, width);
    }

    /// <summary>
    /// Equispaced rows at spacing a = acc·(centre − H)/(centre·acc − H) from a random offset in [0, round(a)), so the
    /// expected total is H/acc including the centre.
    /// </summary>
    public static float[] Equispaced(int height, int width, int acceleration, ulong seed, double? centerFraction = null)
    {
        double fraction = Check(height, width, acceleration, centerFraction);
        int low = CenterLines(height, fraction);
        double spacing = acceleration * (low - height) / (double)(low * acceleration - height);
        var rng = new SplitMix64(seed ^ 0x4551554953504143UL);
        int offset = (int)(rng.NextDouble() * Math.Max(1, (int)Math.Round(spacing)));
        var centred = new bool[height];
        for (double r = offset; r < height - 1; r += spacing) centred[(int)Math.Round(r, MidpointRounding.ToEven)] = true;
        return Build(centred, low, width);
    }

    /// <summary>Which rows of an [H, W] row mask are sampled (row u of the FFT layout, DC first).</summary>
    public static bool[] SampledRows(ReadOnlySpan<float> mask, int height, int width)
    {
        if (mask.Length != height * width) throw ShapeMismatchException.For("mri mask", "mask element count", $"{height}×{width}", mask.Length);
        var rows = new bool[height];
        for (int u = 0; u < height; u++) rows[u] = mask[u * width] != 0f;
        return rows;
    }

    /// <summary>Saves an [H, W] mask as a float32 .npy.</summary>
    public static void Save(string path, ReadOnlySpan<float> mask, int height, int width)
    {
        if (mask.Length != height * width) throw ShapeMismatchException.For("mri mask", $"element count of {path}", $"{height}×{width}", mask.Length);
        Npy.Write(path, mask, [height, width]);
    }

    /// <summary>Loads an [H, W] (or [1, 1, H, W]) 0/1 mask from .npy (float, bool or integer).</summary>
    public static (float[] Mask, int Height, int Width) Load(string path)
    {
        var a = Npy.Read(path);
        var shape = a.Shape;
        if (!(shape.Length == 2 || (shape.Length == 4 && shape[0] == 1 && shape[1] == 1)))
            throw new ModelFormatException($"{path}: an MRI mask must be [H, W] or [1, 1, H, W], found {Shape.Format(shape)}");
        var mask = a.AsFloat32();
        OperatorChecks.Binary($"mri mask {path}", "mask", mask);
        return (mask, shape[^2], shape[^1]);
    }

    private static double Check(int height, int width, int acceleration, double? centerFraction)
    {
        if (height < 2) throw new ArgumentOutOfRangeException(nameof(height), $"mri mask: height must be ≥ 2, found {height}");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), $"mri mask: width must be ≥ 1, found {width}");
        if (acceleration < 1) throw new ArgumentOutOfRangeException(nameof(acceleration), $"mri mask: acceleration must be ≥ 1, found {acceleration}");
        double fraction = centerFraction ?? DefaultCenterFraction(acceleration);
        if (!(fraction > 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(centerFraction), $"mri mask: centre fraction must be in (0, 1), found {fraction}");
        if (CenterLines(height, fraction) * acceleration >= height)
            throw new ArgumentOutOfRangeException(nameof(centerFraction), $"mri mask: {CenterLines(height, fraction)} centre rows of {height} already exceed 1/{acceleration} of the rows");
        return fraction;
    }

    /// <summary>Sets the centre rows, ifftshifts centred row order into FFT order, and repeats each row across the width.</summary>
    private static float[] Build(bool[] centred, int low, int width)
    {
        int height = centred.Length, pad = (height - low + 1) / 2;
        for (int i = pad; i < pad + low; i++) centred[i] = true;
        var mask = new float[height * width];
        for (int u = 0; u < height; u++)
            if (centred[(u + height / 2) % height])
                mask.AsSpan(u * width, width).Fill(1f);
        return mask;
    }
}
