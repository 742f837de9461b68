namespace DiffusionKernels.Medical.Baselines;

/// <summary>
/// The best pixelwise translation baseline: the conditional mean of the target contrast given the source intensity,
/// E[B | A = a], estimated on fitted pairs in <see cref="Bins"/> equal bins over the source's range and interpolated
/// linearly between bin centres (empty bins take their neighbours' values). No map of one pixel's intensity has a lower
/// mean squared error on the fitted distribution, so it bounds what any lookup table, histogram matching included, can
/// reach in PSNR.
/// </summary>
public sealed class IntensityLookup
{
    /// <summary>Bins over the source range.</summary>
    public const int Bins = 256;
    private readonly double _lo, _width;
    private readonly double[] _means;

    private IntensityLookup(double lo, double width, double[] means) => (_lo, _width, _means) = (lo, width, means);

    /// <summary>Fits E[target | source] on paired pixels.</summary>
    /// <exception cref="ArgumentException">The sets differ in length, are empty, or hold a non-finite value.</exception>
    public static IntensityLookup Fit(ReadOnlySpan<float> source, ReadOnlySpan<float> target)
    {
        if (source.IsEmpty || source.Length != target.Length) throw new ArgumentException($"intensity lookup: {source.Length} source and {target.Length} target values must pair up");
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        for (int i = 0; i < source.Length; i++)
        {
            if (!float.IsFinite(source[i]) || !float.IsFinite(target[i])) throw new ArgumentException($"intensity lookup: pair {i} holds a non-finite value");
            lo = Math.Min(lo, source[i]);
            hi = Math.Max(hi, source[i]);
        }
        double width = hi > lo ? (hi - lo) / Bins : 1;
        var sum = new double[Bins];
        var count = new long[Bins];
        for (int i = 0; i < source.Length; i++)
        {
            int k = Math.Clamp((int)((source[i] - lo) / width), 0, Bins - 1);
            sum[k] += target[i];
            count[k]++;
        }
        var means = new double[Bins];
        for (int k = 0; k < Bins; k++) means[k] = count[k] > 0 ? sum[k] / count[k] : double.NaN;
        // Empty bins: linear between the nearest filled bins on either side (or the one filled neighbour at the ends).
        for (int k = 0; k < Bins; k++)
        {
            if (!double.IsNaN(means[k])) continue;
            int left = k - 1, right = k + 1;
            while (left >= 0 && count[left] == 0) left--;
            while (right < Bins && count[right] == 0) right++;
            means[k] = left < 0 ? sum[right] / count[right] : right >= Bins ? sum[left] / count[left]
                : sum[left] / count[left] + (k - left) * (sum[right] / count[right] - sum[left] / count[left]) / (right - left);
        }
        return new IntensityLookup(lo, width, means);
    }

    /// <summary>The looked-up values of <paramref name="values"/>.</summary>
    public float[] Apply(ReadOnlySpan<float> values)
    {
        var y = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            double pos = (values[i] - _lo) / _width - 0.5;
            if (pos <= 0) y[i] = (float)_means[0];
            else if (pos >= Bins - 1) y[i] = (float)_means[^1];
            else
            {
                int k = (int)pos;
                y[i] = (float)(_means[k] + (pos - k) * (_means[k + 1] - _means[k]));
            }
        }
        return y;
    }
}
