namespace DiffusionKernels.Medical.Baselines;

/// <summary>
/// Global histogram matching as a translation baseline: a monotone intensity map that sends the quantiles of the source
/// contrast to the same quantiles of the target contrast, fitted once on pooled pixels of training or validation pairs
/// and then applied pixel by pixel. The fit is scikit-image's <c>match_histograms</c> rule (each distinct source value
/// goes to the target value at its cumulative frequency, interpolated linearly between the target's distinct values), so
/// applied to the images it was fitted on it gives exactly what <c>match_histograms</c> gives; values between the fitted
/// ones are interpolated linearly, values outside them take the end values.
/// </summary>
public sealed class HistogramMatching
{
    private readonly double[] _source, _mapped;

    private HistogramMatching(double[] source, double[] mapped) => (_source, _mapped) = (source, mapped);

    /// <summary>Fits the map from the distribution of <paramref name="source"/> values to that of <paramref name="template"/> values.</summary>
    /// <exception cref="ArgumentException">Either set is empty or holds a non-finite value.</exception>
    public static HistogramMatching Fit(ReadOnlySpan<float> source, ReadOnlySpan<float> template)
    {
        var (sv, sq) = Quantiles(source, nameof(source));
        var (tv, tq) = Quantiles(template, nameof(template));
        var mapped = new double[sv.Length];
        for (int i = 0; i < sv.Length; i++) mapped[i] = Interpolate(tq, tv, sq[i]);
        return new HistogramMatching(sv, mapped);
    }

    /// <summary>The mapped values of <paramref name="values"/>.</summary>
    public float[] Apply(ReadOnlySpan<float> values)
    {
        var y = new float[values.Length];
        for (int i = 0; i < values.Length; i++) y[i] = (float)Interpolate(_source, _mapped, values[i]);
        return y;
    }

    /// <summary>The distinct values, ascending, and their cumulative frequencies (NumPy's unique and cumsum / size).</summary>
    private static (double[] Values, double[] Quantiles) Quantiles(ReadOnlySpan<float> data, string name)
    {
        if (data.IsEmpty) throw new ArgumentException($"histogram matching: the {name} values are empty", name);
        var sorted = data.ToArray();
        foreach (var v in sorted) if (!float.IsFinite(v)) throw new ArgumentException($"histogram matching: the {name} values hold a non-finite value ({v})", name);
        Array.Sort(sorted);
        var values = new List<double>();
        var quantiles = new List<double>();
        for (int i = 0; i < sorted.Length; i++)
        {
            if (i + 1 < sorted.Length && sorted[i + 1] == sorted[i]) continue;
            values.Add(sorted[i]);
            quantiles.Add((double)(i + 1) / sorted.Length);
        }
        return ([.. values], [.. quantiles]);
    }

    /// <summary>NumPy's interp: piecewise linear through (xs, ys), clamped to the end values.</summary>
    private static double Interpolate(double[] xs, double[] ys, double x)
    {
        if (x <= xs[0]) return ys[0];
        if (x >= xs[^1]) return ys[^1];
        int hi = Array.BinarySearch(xs, x);
        if (hi >= 0) return ys[hi];
        hi = ~hi;
        int lo = hi - 1;
        return ys[lo] + (x - xs[lo]) * (ys[hi] - ys[lo]) / (xs[hi] - xs[lo]);
    }
}
