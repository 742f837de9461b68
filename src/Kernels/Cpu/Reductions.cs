using System.Buffers;
using System.Numerics;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Per-sample reductions of x [batch, M] (M = all non-batch elements) into result [batch]. Codes equal
/// <c>(int)DiffusionKernels.Runtime.Reduction.X</c>. Sums are SIMD float within blocks of
/// <see cref="BlockLength"/> elements and double across blocks, so 10⁶-element samples keep ~1e-7 accuracy.
/// </summary>
internal static class Reductions
{
    /// <summary>Reduction codes.</summary>
    public const int Mean = 0, Std = 1, MaxAbs = 2, NonFiniteCount = 3;

    /// <summary>Elements summed in float before the running sum moves to double.</summary>
    internal const int BlockLength = 4096;

    /// <summary>Elements of one parallel work item.</summary>
    private const int ChunkLength = 1 << 16;

    /// <summary>
    /// result[b] = reduction of sample b: Mean, Std (population, two passes), MaxAbs (NaN if the sample holds a
    /// NaN), NonFiniteCount (NaN and ±∞, as a float).
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> result, int batch, int kind)
    {
        long sample = x.Length / batch;
        if (sample == 0)
        {
            result.Fill(kind is Mean or Std ? float.NaN : 0f);
            return;
        }
        int chunks = (int)((sample + ChunkLength - 1) / ChunkLength);
        var partial = ArrayPool<double>.Shared.Rent(batch * chunks);
        var center = ArrayPool<double>.Shared.Rent(batch);
        try
        {
            unsafe
            {
                fixed (float* px = x)
                {
                    nint xp = (nint)px;
                    switch (kind)
                    {
                        case Mean:
                        case Std:
                            // Sums of x − x₀ (x₀ the sample's first element): exact for a constant sample, and no
                            // large offset in the float block sums.
                            ForChunks(batch, chunks, sample, (b, c, start, count) => partial[b * chunks + c] = ShiftedSums((float*)xp + b * sample + start, count, FiniteOrZero(((float*)xp)[b * sample])).Sum);
                            for (int b = 0; b < batch; b++) center[b] = FiniteOrZero(px[b * sample]) + Total(partial, b, chunks) / sample;
                            if (kind == Mean) break;
                            ForChunks(batch, chunks, sample, (b, c, start, count) => partial[b * chunks + c] = ShiftedSums((float*)xp + b * sample + start, count, (float)center[b]).SumOfSquares);
                            for (int b = 0; b < batch; b++) center[b] = Math.Sqrt(Total(partial, b, chunks) / sample);
                            break;
                        case MaxAbs:
                            ForChunks(batch, chunks, sample, (b, c, start, count) => partial[b * chunks + c] = MaxAbsolute((float*)xp + b * sample + start, count));
                            for (int b = 0; b < batch; b++)
                            {
                                double m = 0;
                                for (int c = 0; c < chunks; c++) m = double.IsNaN(partial[b * chunks + c]) || partial[b * chunks + c] > m ? partial[b * chunks + c] : m;
                                center[b] = m;
                            }
                            break;
                        default:
                            ForChunks(batch, chunks, sample, (b, c, start, count) => partial[b * chunks + c] = CountNonFinite((float*)xp + b * sample + start, count));
                            for (int b = 0; b < batch; b++) center[b] = Total(partial, b, chunks);
                            break;
                    }
                }
            }
            for (int b = 0; b < batch; b++) result[b] = (float)center[b];
        }
        finally
        {
            ArrayPool<double>.Shared.Return(partial);
            ArrayPool<double>.Shared.Return(center);
        }
    }

    /// <summary>
    /// flags[b] = min(flags[b], step) for every sample b of x [batch, M] that holds a NaN or ±∞: the first step at
    /// which each sample went non-finite, kept where the sampler can read it now and then rather than every step.
    /// </summary>
    public static void FlagNonFinite(ReadOnlySpan<float> x, Span<long> flags, int batch, long step)
    {
        Span<float> counts = batch <= 256 ? stackalloc float[batch] : new float[batch];
        Forward(x, counts, batch, NonFiniteCount);
        for (int b = 0; b < batch; b++)
            if (counts[b] > 0 && step < flags[b]) flags[b] = step;
    }

    /// <summary>Σ(x − shift) and Σ(x − shift)² over n elements: float vectors within blocks, double across them.</summary>
    internal static unsafe (double Sum, double SumOfSquares) ShiftedSums(float* x, long n, float shift)
    {
        int w = Vector<float>.Count;
        var vShift = new Vector<float>(shift);
        double sum = 0, squares = 0;
        long i = 0;
        while (i <= n - w)
        {
            long blockEnd = Math.Min(n, i + BlockLength);
            Vector<float> s0 = default, s1 = default, q0 = default, q1 = default;
            for (; i <= blockEnd - 2 * w; i += 2 * w)
            {
                var d0 = Vector.Load(x + i) - vShift;
                var d1 = Vector.Load(x + i + w) - vShift;
                s0 += d0;
                s1 += d1;
                q0 = Vector.FusedMultiplyAdd(d0, d0, q0);
                q1 = Vector.FusedMultiplyAdd(d1, d1, q1);
            }
            for (; i <= blockEnd - w; i += w)
            {
                var d0 = Vector.Load(x + i) - vShift;
                s0 += d0;
                q0 = Vector.FusedMultiplyAdd(d0, d0, q0);
            }
            sum += Vector.Sum(s0 + s1);
            squares += Vector.Sum(q0 + q1);
        }
        for (; i < n; i++)
        {
            double d = x[i] - shift;
            sum += d;
            squares += d * d;
        }
        return (sum, squares);
    }

    private static unsafe double MaxAbsolute(float* x, long n)
    {
        int w = Vector<float>.Count;
        Vector<float> max = default;
        var nan = Vector<int>.Zero;
        long i = 0;
        for (; i <= n - w; i += w)
        {
            var a = Vector.Abs(Vector.Load(x + i));
            nan |= ~Vector.Equals(a, a);
            max = Vector.ConditionalSelect(Vector.GreaterThan(a, max), a, max);
        }
        float m = 0;
        for (int k = 0; k < w; k++) m = Math.Max(m, max[k]);
        if (nan != Vector<int>.Zero) return double.NaN;
        for (; i < n; i++)
        {
            float a = Math.Abs(x[i]);
            if (float.IsNaN(a)) return double.NaN;
            m = Math.Max(m, a);
        }
        return m;
    }

    private static unsafe double CountNonFinite(float* x, long n)
    {
        // A float is NaN or ±∞ exactly when its exponent bits are all ones.
        int w = Vector<int>.Count;
        var exponent = new Vector<int>(0x7F800000);
        var counts = Vector<int>.Zero;
        long total = 0, i = 0;
        while (i <= n - w)
        {
            long blockEnd = Math.Min(n, i + BlockLength); // int lanes never overflow within a block
            for (; i <= blockEnd - w; i += w)
                counts -= Vector.Equals(Vector.Load((int*)(x + i)) & exponent, exponent); // true lanes are −1
            total += Vector.Sum(counts);
            counts = Vector<int>.Zero;
        }
        for (; i < n; i++)
            if (!float.IsFinite(x[i])) total++;
        return total;
    }

    private static float FiniteOrZero(float v) => float.IsFinite(v) ? v : 0f;

    private static double Total(double[] partial, int b, int chunks)
    {
        double s = 0;
        for (int c = 0; c < chunks; c++) s += partial[b * chunks + c];
        return s;
    }

    private delegate void ChunkAction(int sample, int chunk, long start, long count);

    private static void ForChunks(int batch, int chunks, long sample, ChunkAction action)
    {
        void Item(int i)
        {
            int b = i / chunks, c = i % chunks;
            long start = (long)c * ChunkLength;
            action(b, c, start, Math.Min(ChunkLength, sample - start));
        }
        int items = batch * chunks;
        if (items > 1 && batch * sample >= Activations.ParallelThreshold) Parallel.For(0, items, Item);
        else for (int i = 0; i < items; i++) Item(i);
    }
}
