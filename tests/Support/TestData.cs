namespace DiffusionKernels.Tests.Support;

/// <summary>Deterministic random inputs for tests.</summary>
public static class TestData
{
    /// <summary>n standard-normal floats (Box–Muller over System.Random with a fixed seed).</summary>
    public static float[] Normal(long n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2 * Math.Log(u1));
            a[i] = (float)(r * Math.Cos(2 * Math.PI * u2)) * scale;
            if (i + 1 < n) a[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2)) * scale;
        }
        return a;
    }

    /// <summary>n floats uniform in [lo, hi).</summary>
    public static float[] Uniform(long n, int seed, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }
}
