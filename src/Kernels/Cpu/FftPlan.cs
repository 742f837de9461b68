using System.Collections.Concurrent;
using System.Numerics;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>How a 1-D FFT of one length is computed.</summary>
internal enum FftAlgorithm
{
    /// <summary>Radix-2 decimation in time (n a power of two).</summary>
    Radix2,
    /// <summary>Stockham autosort over the prime factors of n (radix-4 where possible): n·Σpᵢ complex multiply–adds.</summary>
    MixedRadix,
    /// <summary>Bluestein's chirp-z: a cyclic convolution of length m = 2^⌈log2(2n − 1)⌉ by radix-2 FFTs, for lengths with a large prime factor.</summary>
    Bluestein,
}

/// <summary>
/// The plan of a 1-D FFT of length n, shared by the CPU twin and the GPU kernel: the algorithm, the radices of the
/// mixed-radix passes (first pass first), and for Bluestein the padded length m. Mixed radix costs about n·Σpᵢ
/// complex multiply–adds, Bluestein about 2m·log2(m) + 3m; the cheaper one is chosen, so lengths like 320 = 4³·5 and
/// 368 = 4²·23 run mixed radix and primes run Bluestein.
/// </summary>
internal sealed class FftPlan
{
    private static readonly ConcurrentDictionary<(int, FftAlgorithm?), FftPlan> Cache = new();

    private FftPlan(int n, FftAlgorithm algorithm, int[] radices, int padded)
    {
        Length = n;
        Algorithm = algorithm;
        Radices = radices;
        PaddedLength = padded;
    }

    /// <summary>The transform length n.</summary>
    public int Length { get; }
    /// <summary>The algorithm.</summary>
    public FftAlgorithm Algorithm { get; }
    /// <summary>Mixed radix: the radix of each Stockham pass (their product is n); otherwise empty.</summary>
    public IReadOnlyList<int> Radices { get; }
    /// <summary>Bluestein: the power-of-two convolution length m ≥ 2n − 1; otherwise n.</summary>
    public int PaddedLength { get; }

    /// <summary>True when n is a power of two.</summary>
    public static bool IsPowerOfTwo(int n) => n > 0 && (n & (n - 1)) == 0;

    /// <summary>The plan for length <paramref name="n"/> (cached); <paramref name="force"/> picks the algorithm (tests).</summary>
    public static FftPlan For(int n, FftAlgorithm? force = null)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), $"fft: length must be ≥ 1, found {n}");
        if (force == FftAlgorithm.Radix2 && !IsPowerOfTwo(n)) throw new ArgumentException($"fft: radix-2 needs a power of two, found {n}");
        return Cache.GetOrAdd((n, force), static key => Create(key.Item1, key.Item2));
    }

    private static FftPlan Create(int n, FftAlgorithm? force)
    {
        if (force is null && IsPowerOfTwo(n) || force == FftAlgorithm.Radix2) return new FftPlan(n, FftAlgorithm.Radix2, [], n);
        var radices = Factor(n);
        int m = (int)BitOperations.RoundUpToPowerOf2((uint)(2 * n - 1));
        double mixed = (double)n * radices.Sum(), bluestein = 2.0 * m * BitOperations.Log2((uint)m) + 3.0 * m;
        var algorithm = force ?? (mixed <= bluestein ? FftAlgorithm.MixedRadix : FftAlgorithm.Bluestein);
        return algorithm == FftAlgorithm.MixedRadix ? new FftPlan(n, algorithm, radices, n) : new FftPlan(n, algorithm, [], m);
    }

    /// <summary>Prime factors of n with pairs of 2s merged into 4s, small radices first (n = 1 gives [1]).</summary>
    public static int[] Factor(int n)
    {
        var f = new List<int>();
        int r = n;
        while (r % 4 == 0) { f.Add(4); r /= 4; }
        if (r % 2 == 0) { f.Add(2); r /= 2; }
        for (int p = 3; (long)p * p <= r; p += 2)
            while (r % p == 0) { f.Add(p); r /= p; }
        if (r > 1) f.Add(r);
        if (f.Count == 0) f.Add(1);
        return [.. f];
    }
}
