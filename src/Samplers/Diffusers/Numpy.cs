namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// The numpy operations diffusers builds its timestep grids with, reproduced operation for operation in float64 so
/// that the grids agree to the bit (a grid that differs by one training step changes every later step).
/// </summary>
internal static class Numpy
{
    /// <summary>np.linspace(start, stop, num): start + i·((stop − start)/(num − 1)), the last value exactly stop.</summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        var y = new double[num];
        if (num == 1) { y[0] = start; return y; }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) y[i] = step == 0 ? i / (double)(num - 1) * (stop - start) + start : i * step + start;
        y[^1] = stop;
        return y;
    }

    /// <summary>
    /// np.arange(start, stop, step) for floats: length ceil((stop − start)/step), values start + i·δ with
    /// δ = (start + step) − start (numpy fills from its first two values).
    /// </summary>
    public static double[] Arange(double start, double stop, double step)
    {
        double length = Math.Ceiling((stop - start) / step);
        if (!(length > 0)) return [];
        int n = checked((int)length);
        double delta = start + step - start;
        var y = new double[n];
        for (int i = 0; i < n; i++) y[i] = start + i * delta;
        return y;
    }

    /// <summary>np.round: half to even.</summary>
    public static double Round(double v) => Math.Round(v, MidpointRounding.ToEven);

    /// <summary>np.interp(x, arange(len(table)), table): linear between neighbours, clamped at the ends.</summary>
    public static double Interp(double x, ReadOnlySpan<float> table)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x <= 0) return table[0];
        if (x >= table.Length - 1) return table[^1];
        int j = (int)Math.Floor(x);
        if (x == j) return table[j];
        double slope = ((double)table[j + 1] - table[j]) / 1.0;
        return slope * (x - j) + table[j];
    }

    /// <summary>
    /// diffusers' _sigma_to_t on numpy arrays: the fractional training step whose log σ is log <paramref name="sigma"/>,
    /// interpolating linearly in log σ between neighbouring entries of the increasing float32 <paramref name="logSigmas"/>
    /// (clamped to the table). numpy's value-based casting runs the distances and the weight w in float32 (the float64
    /// log σ meets a float32 table), then (1 − w)·low + w·high in float64; a σ at a table entry lands on it exactly.
    /// </summary>
    public static double SigmaToT(double sigma, ReadOnlySpan<float> logSigmas)
    {
        float logSigma = (float)Math.Log(Math.Max(sigma, 1e-10));
        if (float.IsNaN(logSigma)) return double.NaN;
        // cumsum(dists >= 0).argmax(): the last index whose log σ is ≤ logSigma (0 when none), at most len − 2.
        int low = 0;
        for (int j = 0; j < logSigmas.Length; j++)
            if (logSigma - logSigmas[j] >= 0) low = j;
        low = Math.Min(low, logSigmas.Length - 2);
        float lo = logSigmas[low], hi = logSigmas[low + 1];
        float w = Math.Clamp((lo - logSigma) / (lo - hi), 0f, 1f);
        return (double)(1f - w) * low + (double)w * (low + 1);
    }

    /// <summary>
    /// _sigma_to_t as KDPM2DiscreteScheduler runs it on its float32 torch tensors: every operation in float32
    /// (log σ, the weight w and (1 − w)·low + w·high).
    /// </summary>
    public static float SigmaToT32(float sigma, ReadOnlySpan<float> logSigmas)
    {
        float logSigma = (float)Math.Log(Math.Max(sigma, 1e-10f));
        if (float.IsNaN(logSigma)) return float.NaN;
        int low = 0;
        for (int j = 0; j < logSigmas.Length; j++)
            if (logSigma - logSigmas[j] >= 0) low = j;
        low = Math.Min(low, logSigmas.Length - 2);
        float lo = logSigmas[low], hi = logSigmas[low + 1];
        float w = Math.Clamp((lo - logSigma) / (lo - hi), 0f, 1f);
        float a = (1f - w) * low, b = w * (low + 1);
        return a + b;
    }
}
