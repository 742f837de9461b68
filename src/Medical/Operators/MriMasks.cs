using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Medical.Operators;

/// <summary>
/// Cartesian undersampling masks over phase-encode rows as the field defines them (fastMRI's acceleration and centre
/// fractions): exactly round(H/acceleration) rows are sampled, of which round(H·centerFraction) are the fully sampled
/// centre block (the ACS lines: 8 % at 4×, 4 % at 8×); the rest are drawn at random without replacement
/// (<see cref="Random"/>) or spread evenly over the rows outside the centre from a random offset
/// (<see cref="Equispaced"/>). fastMRI's own <c>RandomMaskFunc</c> keeps each row with a probability, so its row count
/// (and true acceleration) varies from mask to mask; these masks hit the nominal acceleration exactly (see
/// <see cref="EffectiveAcceleration"/>). Masks are [H, W] float 0/1 (whole rows), laid out like the FFT's output (DC
/// row 0, no fftshift): they are built in centred order and ifftshifted. Deterministic per seed.
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

    /// <summary>Number of sampled rows in all: round(H/acceleration) (half to even).</summary>
    public static int TotalLines(int height, int acceleration) => (int)Math.Round(height / (double)acceleration, MidpointRounding.ToEven);

    /// <summary>The centre block plus exactly <see cref="TotalLines"/> − <see cref="CenterLines"/> other rows chosen uniformly without replacement.</summary>
    public static float[] Random(int height, int width, int acceleration, ulong seed, double? centerFraction = null)
    {
        var (low, outside) = Check(height, width, acceleration, centerFraction);
        var rng = new SplitMix64(seed ^ 0x6D52495F4D41534BUL);
        var candidates = OutsideCentre(height, low);
        // Partial Fisher–Yates: the first `outside` entries become a uniform sample without replacement.
        for (int i = 0; i < outside; i++)
        {
            int j = i + (int)(rng.NextDouble() * (candidates.Length - i));
            (candidates[i], candidates[j]) = (candidates[j], candidates[i]);
        }
        var centred = new bool[height];
        for (int i = 0; i < outside; i++) centred[candidates[i]] = true;
        return Build(centred, low, width);
    }

    /// <summary>
    /// The centre block plus exactly <see cref="TotalLines"/> − <see cref="CenterLines"/> rows spread evenly over the
    /// L rows outside the centre: candidates floor(o + k·L/K), k = 0 … K−1, from a random offset o in [0, L/K).
    /// </summary>
    public static float[] Equispaced(int height, int width, int acceleration, ulong seed, double? centerFraction = null)
    {
        var (low, outside) = Check(height, width, acceleration, centerFraction);
        var rng = new SplitMix64(seed ^ 0x4551554953504143UL);
        var candidates = OutsideCentre(height, low);
        var centred = new bool[height];
        if (outside > 0)
        {
            double spacing = candidates.Length / (double)outside, offset = rng.NextDouble() * spacing;
            for (int k = 0; k < outside; k++) centred[candidates[Math.Min(candidates.Length - 1, (int)Math.Floor(offset + k * spacing))]] = true;
        }
        return Build(centred, low, width);
    }

    /// <summary>A mask of <paramref name="kind"/> ("random" or "equispaced").</summary>
    public static float[] Create(string kind, int height, int width, int acceleration, ulong seed, double? centerFraction = null) => kind switch
    {
        "random" => Random(height, width, acceleration, seed, centerFraction),
        "equispaced" => Equispaced(height, width, acceleration, seed, centerFraction),
        _ => throw new ArgumentException($"mri mask: the kind must be random or equispaced, found '{kind}'", nameof(kind)),
    };

    /// <summary>Rows sampled of an [H, W] row mask's <paramref name="height"/>, and the acceleration it really gives: H / sampled rows.</summary>
    public static (int Rows, double Acceleration) EffectiveAcceleration(ReadOnlySpan<float> mask, int height, int width)
    {
        int rows = SampledRows(mask, height, width).Count(r => r);
        return (rows, rows == 0 ? double.PositiveInfinity : height / (double)rows);
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

    private static (int Low, int Outside) Check(int height, int width, int acceleration, double? centerFraction)
    {
        if (height < 2) throw new ArgumentOutOfRangeException(nameof(height), $"mri mask: height must be ≥ 2, found {height}");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), $"mri mask: width must be ≥ 1, found {width}");
        if (acceleration < 1) throw new ArgumentOutOfRangeException(nameof(acceleration), $"mri mask: acceleration must be ≥ 1, found {acceleration}");
        double fraction = centerFraction ?? DefaultCenterFraction(acceleration);
        if (!(fraction > 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(centerFraction), $"mri mask: centre fraction must be in (0, 1), found {fraction}");
        int low = CenterLines(height, fraction), total = TotalLines(height, acceleration);
        if (low < 1) throw new ArgumentOutOfRangeException(nameof(centerFraction), $"mri mask: a centre fraction of {fraction} of {height} rows rounds to no centre row");
        if (low > total)
            throw new ArgumentOutOfRangeException(nameof(centerFraction), $"mri mask: {low} centre rows of {height} already exceed the {total} rows of {acceleration}× acceleration");
        return (low, total - low);
    }

    /// <summary>Centred row indices outside the centre block, in order.</summary>
    private static int[] OutsideCentre(int height, int low)
    {
        int pad = (height - low + 1) / 2;
        return Enumerable.Range(0, height).Where(i => i < pad || i >= pad + low).ToArray();
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
