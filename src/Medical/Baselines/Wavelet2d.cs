namespace DiffusionKernels.Medical.Baselines;

/// <summary>The orthonormal Daubechies wavelets <see cref="Wavelet2d"/> knows (db1 = Haar).</summary>
public enum DaubechiesWavelet
{
    /// <summary>db1: the Haar wavelet (2 taps).</summary>
    Haar,
    /// <summary>db2 (4 taps).</summary>
    Db2,
    /// <summary>db4 (8 taps).</summary>
    Db4,
}

/// <summary>
/// Orthonormal multi-level 2-D discrete wavelet transform with periodic extension (pywt's "periodization" mode) of
/// [planes, H, W] images, H and W divisible by 2^levels. One level maps the current approximation block in place to
/// [LL LH; HL HH] by a 1-D transform of its rows then its columns: a[k] = Σₙ hₙ·x[(2k + n) mod N],
/// d[k] = Σₙ gₙ·x[(2k + n) mod N] with gₙ = (−1)ⁿ·h_{L−1−n}; the inverse is the transpose. No well-kept .NET wavelet
/// library exists (MathNet has none), so this is written here and checked for orthonormality, perfect
/// reconstruction, vanishing moments and the Haar closed form.
/// </summary>
/// <remarks>Thread safety: immutable filters; calls work in their own buffers, so one instance may serve several threads.</remarks>
public sealed class Wavelet2d
{
    private readonly double[] _h, _g;

    /// <summary>A transform with <paramref name="levels"/> levels of <paramref name="wavelet"/>.</summary>
    public Wavelet2d(DaubechiesWavelet wavelet, int levels)
    {
        if (levels < 1) throw new ArgumentOutOfRangeException(nameof(levels), $"wavelet: levels must be ≥ 1, found {levels}");
        Wavelet = wavelet;
        Levels = levels;
        _h = ScalingFilter(wavelet);
        _g = new double[_h.Length];
        for (int n = 0; n < _h.Length; n++) _g[n] = (n % 2 == 0 ? 1 : -1) * _h[_h.Length - 1 - n];
    }

    /// <summary>The wavelet.</summary>
    public DaubechiesWavelet Wavelet { get; }
    /// <summary>Decomposition levels.</summary>
    public int Levels { get; }

    /// <summary>The scaling (low-pass) filter h, Σh = √2, Σh² = 1 (pywt's rec_lo).</summary>
    public static double[] ScalingFilter(DaubechiesWavelet wavelet) => wavelet switch
    {
        DaubechiesWavelet.Haar => [1 / Math.Sqrt(2), 1 / Math.Sqrt(2)],
        DaubechiesWavelet.Db2 => [(1 + Math.Sqrt(3)) / (4 * Math.Sqrt(2)), (3 + Math.Sqrt(3)) / (4 * Math.Sqrt(2)), (3 - Math.Sqrt(3)) / (4 * Math.Sqrt(2)), (1 - Math.Sqrt(3)) / (4 * Math.Sqrt(2))],
        // Daubechies' 8-tap filter (4 vanishing moments), as tabulated in Daubechies (1992), Table 6.1.
        DaubechiesWavelet.Db4 =>
        [
            0.23037781330885523, 0.7148465705525415, 0.6308807679295904, -0.02798376941698385,
            -0.18703481171888114, 0.030841381835986965, 0.032883011666982945, -0.010597401784997278,
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(wavelet), $"wavelet: unknown wavelet {wavelet}"),
    };

    /// <summary>The largest level count that divides <paramref name="height"/> and <paramref name="width"/> and leaves blocks of at least 2×2.</summary>
    public static int MaxLevels(int height, int width)
    {
        int levels = 0;
        while (height % 2 == 0 && width % 2 == 0 && height >= 4 && width >= 4) { height /= 2; width /= 2; levels++; }
        return levels;
    }

    /// <summary>Coefficients of <paramref name="x"/> [planes, H, W] (same layout, approximation top-left).</summary>
    public float[] Forward(ReadOnlySpan<float> x, int planes, int height, int width)
    {
        Check(x.Length, planes, height, width);
        var c = x.ToArray();
        Parallel.For(0, planes, p =>
        {
            var line = new double[Math.Max(height, width)];
            var outLine = new double[line.Length];
            int h = height, w = width;
            for (int level = 0; level < Levels; level++, h /= 2, w /= 2)
            {
                for (int r = 0; r < h; r++) Lines(c, p * height * width + r * width, 1, w, line, outLine, forward: true);
                for (int col = 0; col < w; col++) Lines(c, p * height * width + col, width, h, line, outLine, forward: true);
            }
        });
        return c;
    }

    /// <summary>The image of coefficients <paramref name="c"/> (the inverse, equal to the transpose).</summary>
    public float[] Inverse(ReadOnlySpan<float> c, int planes, int height, int width)
    {
        Check(c.Length, planes, height, width);
        var x = c.ToArray();
        Parallel.For(0, planes, p =>
        {
            var line = new double[Math.Max(height, width)];
            var outLine = new double[line.Length];
            for (int level = Levels - 1; level >= 0; level--)
            {
                int h = height >> level, w = width >> level;
                for (int col = 0; col < w; col++) Lines(x, p * height * width + col, width, h, line, outLine, forward: false);
                for (int r = 0; r < h; r++) Lines(x, p * height * width + r * width, 1, w, line, outLine, forward: false);
            }
        });
        return x;
    }

    /// <summary>1 on the approximation block of the coarsest level, 0 on detail coefficients ([H, W]).</summary>
    public bool[] ApproximationMask(int height, int width)
    {
        var m = new bool[height * width];
        int h = height >> Levels, w = width >> Levels;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) m[r * width + c] = true;
        return m;
    }

    private void Check(int length, int planes, int height, int width)
    {
        if (planes < 1 || height < 2 || width < 2) throw new ArgumentOutOfRangeException(nameof(planes), $"wavelet: bad image size {planes}×{height}×{width}");
        if (length != (long)planes * height * width) throw new ArgumentException($"wavelet: {length} values are not {planes}×{height}×{width}");
        int f = 1 << Levels;
        if (height % f != 0 || width % f != 0)
            throw new ArgumentException($"wavelet: {Levels} levels need the height and width to be multiples of {f}, found {height}×{width}");
    }

    /// <summary>One 1-D level on n values at data[start + k·stride].</summary>
    private void Lines(float[] data, int start, int stride, int n, double[] line, double[] outLine, bool forward)
    {
        int half = n / 2, taps = _h.Length;
        for (int k = 0; k < n; k++) line[k] = data[start + k * stride];
        if (forward)
        {
            for (int k = 0; k < half; k++)
            {
                double a = 0, d = 0;
                for (int t = 0; t < taps; t++)
                {
                    double v = line[(2 * k + t) % n];
                    a += _h[t] * v;
                    d += _g[t] * v;
                }
                outLine[k] = a;
                outLine[half + k] = d;
            }
        }
        else
        {
            Array.Clear(outLine, 0, n);
            for (int k = 0; k < half; k++)
            {
                double a = line[k], d = line[half + k];
                for (int t = 0; t < taps; t++) outLine[(2 * k + t) % n] += _h[t] * a + _g[t] * d;
            }
        }
        for (int k = 0; k < n; k++) data[start + k * stride] = (float)outLine[k];
    }
}
