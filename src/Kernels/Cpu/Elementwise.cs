using System.Numerics;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Up to <see cref="Elementwise.MaxTerms"/> read-only inputs of <see cref="Elementwise.LinearCombination"/>
/// (spans cannot live in an array, so they ride in fixed fields).
/// </summary>
internal ref struct LinearTerms
{
    private ReadOnlySpan<float> _x0, _x1, _x2, _x3, _x4, _x5, _x6, _x7;

    /// <summary>How many terms have been added.</summary>
    public int Count { readonly get; private set; }

    /// <summary>Appends one term.</summary>
    public void Add(ReadOnlySpan<float> x)
    {
        switch (Count)
        {
            case 0: _x0 = x; break;
            case 1: _x1 = x; break;
            case 2: _x2 = x; break;
            case 3: _x3 = x; break;
            case 4: _x4 = x; break;
            case 5: _x5 = x; break;
            case 6: _x6 = x; break;
            case 7: _x7 = x; break;
            default: throw new ArgumentException($"linear combination: at most {Elementwise.MaxTerms} terms");
        }
        Count++;
    }

    /// <summary>Term <paramref name="i"/>.</summary>
    public readonly ReadOnlySpan<float> this[int i] => i switch
    {
        0 => _x0,
        1 => _x1,
        2 => _x2,
        3 => _x3,
        4 => _x4,
        5 => _x5,
        6 => _x6,
        7 => _x7,
        _ => throw new ArgumentOutOfRangeException(nameof(i)),
    };
}

/// <summary>
/// Memory-bound element-wise maps over flat spans: channel concat, axpby/scale, clamp and the sampler's
/// linear combination. SIMD with <see cref="Vector{T}"/>; split into contiguous chunks over all cores when
/// large. Outputs may be the same memory as an input (same start, same length), never a shifted overlap:
/// every element is read before it is written.
/// </summary>
internal static class Elementwise
{
    /// <summary>Most terms <see cref="LinearCombination"/> takes.</summary>
    public const int MaxTerms = 8;

    /// <summary>Elements below which a call stays on one core (a thread hop costs ~10 µs, ~2 MB of streaming).</summary>
    internal const int ParallelThreshold = 1 << 17;

    /// <summary>Elements per stack block of <see cref="LinearCombination"/> (16 KiB: stays in L1 while terms accumulate).</summary>
    private const int Block = 4096;

    /// <summary>
    /// y[n] = [a[n], b[n]] per sample: a holds <paramref name="batch"/> samples of <paramref name="aSample"/>
    /// elements (Ca·spatial), b of <paramref name="bSample"/>, y of their sum.
    /// </summary>
    public static void ConcatChannels(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int batch, int aSample, int bSample)
    {
        int ySample = aSample + bSample;
        if (y.Length < ParallelThreshold || batch < 2)
        {
            for (int n = 0; n < batch; n++)
            {
                a.Slice(n * aSample, aSample).CopyTo(y.Slice(n * ySample, aSample));
                b.Slice(n * bSample, bSample).CopyTo(y.Slice(n * ySample + aSample, bSample));
            }
            return;
        }
        unsafe
        {
            fixed (float* pa = a, pb = b, py = y)
            {
                nint ap = (nint)pa, bp = (nint)pb, yp = (nint)py;
                // One piece per (sample, source): each a plain memcpy.
                Parallel.For(0, 2 * batch, piece =>
                {
                    int n = piece >> 1;
                    if ((piece & 1) == 0)
                        new ReadOnlySpan<float>((float*)ap + (long)n * aSample, aSample).CopyTo(new Span<float>((float*)yp + (long)n * ySample, aSample));
                    else
                        new ReadOnlySpan<float>((float*)bp + (long)n * bSample, bSample).CopyTo(new Span<float>((float*)yp + (long)n * ySample + aSample, bSample));
                });
            }
        }
    }

    /// <summary>y = alpha·a + beta·b; y may be a or b.</summary>
    public static void Axpby(float alpha, ReadOnlySpan<float> a, float beta, ReadOnlySpan<float> b, Span<float> y)
    {
        unsafe
        {
            fixed (float* pa = a, pb = b, py = y)
            {
                nint ap = (nint)pa, bp = (nint)pb, yp = (nint)py;
                ForChunks(a.Length, (start, count) => AxpbyRange(alpha, (float*)ap + start, beta, (float*)bp + start, (float*)yp + start, count));
            }
        }
    }

    /// <summary>y = alpha·x; y may be x.</summary>
    public static void Scale(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        unsafe
        {
            fixed (float* px = x, py = y)
            {
                nint xp = (nint)px, yp = (nint)py;
                ForChunks(x.Length, (start, count) => ScaleRange(alpha, (float*)xp + start, (float*)yp + start, count));
            }
        }
    }

    /// <summary>y = min(max(x, lo), hi), NaN passing through as in PyTorch; y may be x.</summary>
    public static void Clamp(ReadOnlySpan<float> x, float lo, float hi, Span<float> y)
    {
        unsafe
        {
            fixed (float* px = x, py = y)
            {
                nint xp = (nint)px, yp = (nint)py;
                ForChunks(x.Length, (start, count) => ClampRange((float*)xp + start, lo, hi, (float*)yp + start, count));
            }
        }
    }

    /// <summary>
    /// y[s] = Σᵢ cᵢ[s]·xᵢ[s] for each of <paramref name="batch"/> equal samples s, summed left to right
    /// (c₀x₀ + c₁x₁ + …). <paramref name="coefficients"/> holds one value per term, or, when
    /// <paramref name="perSample"/>, batch values per term laid out term-major (c[i·batch + s]).
    /// y may be any of the terms.
    /// </summary>
    public static void LinearCombination(Span<float> y, scoped in LinearTerms xs, ReadOnlySpan<float> coefficients, int batch, bool perSample)
    {
        int terms = xs.Count;
        if (y.Length == 0) return;

        int sampleLength = y.Length / batch;
        unsafe
        {
            fixed (float* p0 = xs[0], p1 = xs[1], p2 = xs[2], p3 = xs[3], p4 = xs[4], p5 = xs[5], p6 = xs[6], p7 = xs[7], py = y, pc = coefficients)
            {
                var x = new TermPointers();
                x[0] = (nint)p0; x[1] = (nint)p1; x[2] = (nint)p2; x[3] = (nint)p3;
                x[4] = (nint)p4; x[5] = (nint)p5; x[6] = (nint)p6; x[7] = (nint)p7;
                nint yp = (nint)py, cp = (nint)pc;
                ForChunks(y.Length, (start, count) =>
                    CombineRange(x, terms, (float*)cp, batch, perSample, sampleLength, (float*)yp, start, start + count));
            }
        }
    }

    /// <summary>Term base addresses, copyable into a parallel body.</summary>
    [System.Runtime.CompilerServices.InlineArray(MaxTerms)]
    private struct TermPointers
    {
        private nint _first;
    }

    private static unsafe void CombineRange(TermPointers x, int terms, float* c, int batch, bool perSample, int sampleLength, float* y, long start, long end)
    {
        float* coeff = stackalloc float[MaxTerms];
        float* acc = stackalloc float[Block];
        while (start < end)
        {
            // Split at sample boundaries so each segment has one set of coefficients.
            int sample = (int)(start / sampleLength);
            long segmentEnd = Math.Min(end, (long)(sample + 1) * sampleLength);
            for (int i = 0; i < terms; i++) coeff[i] = perSample ? c[i * batch + sample] : c[i];
            for (long b = start; b < segmentEnd; b += Block)
            {
                int n = (int)Math.Min(Block, segmentEnd - b);
                // Accumulate in a stack block, then store: y may be any term, so nothing is written before all terms are read.
                ScaleRange(coeff[0], (float*)x[0] + b, acc, n);
                for (int i = 1; i < terms; i++) AccumulateRange(coeff[i], (float*)x[i] + b, acc, n);
                new ReadOnlySpan<float>(acc, n).CopyTo(new Span<float>(y + b, n));
            }
            start = segmentEnd;
        }
    }

    private static unsafe void AxpbyRange(float alpha, float* a, float beta, float* b, float* y, long n)
    {
        long i = 0;
        var va = new Vector<float>(alpha);
        var vb = new Vector<float>(beta);
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            Vector.Store(va * Vector.Load(a + i) + vb * Vector.Load(b + i), y + i);
        for (; i < n; i++) y[i] = alpha * a[i] + beta * b[i];
    }

    private static unsafe void ScaleRange(float alpha, float* x, float* y, long n)
    {
        long i = 0;
        var va = new Vector<float>(alpha);
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            Vector.Store(va * Vector.Load(x + i), y + i);
        for (; i < n; i++) y[i] = alpha * x[i];
    }

    /// <summary>acc += alpha·x.</summary>
    private static unsafe void AccumulateRange(float alpha, float* x, float* acc, long n)
    {
        long i = 0;
        var va = new Vector<float>(alpha);
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            Vector.Store(Vector.Load(acc + i) + va * Vector.Load(x + i), acc + i);
        for (; i < n; i++) acc[i] += alpha * x[i];
    }

    private static unsafe void ClampRange(float* x, float lo, float hi, float* y, long n)
    {
        long i = 0;
        var vlo = new Vector<float>(lo);
        var vhi = new Vector<float>(hi);
        // Compare-and-select rather than Min/Max, so NaN inputs stay NaN (as torch.clamp).
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
        {
            var v = Vector.Load(x + i);
            v = Vector.ConditionalSelect(Vector.LessThan(v, vlo), vlo, v);
            Vector.Store(Vector.ConditionalSelect(Vector.GreaterThan(v, vhi), vhi, v), y + i);
        }
        for (; i < n; i++)
        {
            float v = x[i];
            y[i] = v < lo ? lo : v > hi ? hi : v;
        }
    }

    /// <summary>Runs body(start, count) over [0, length) in vector-aligned chunks, in parallel when large.</summary>
    internal static void ForChunks(long length, Action<long, long> body)
    {
        if (length < ParallelThreshold || Environment.ProcessorCount < 2)
        {
            if (length > 0) body(0, length);
            return;
        }
        int chunks = (int)Math.Min(4L * Environment.ProcessorCount, length / (ParallelThreshold / 2));
        long chunk = (length + chunks - 1) / chunks;
        chunk = (chunk + Vector<float>.Count - 1) / Vector<float>.Count * Vector<float>.Count;
        Parallel.For(0, chunks, i =>
        {
            long start = i * chunk, count = Math.Min(chunk, length - start);
            if (count > 0) body(start, count);
        });
    }
}
