using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Up to <see cref="ElementwiseKernels.MaxTerms"/> input views of a linear combination, passed to the kernel
/// by value (one launch whatever the term count). Unused slots repeat the first view and are never read.
/// </summary>
internal struct TermViews
{
    /// <summary>The term views, in order.</summary>
    public ArrayView<float> X0, X1, X2, X3, X4, X5, X6, X7;

    /// <summary>How many of the views are terms.</summary>
    public int Count;

    /// <summary>Appends one term.</summary>
    public void Add(ArrayView<float> x)
    {
        if (Count == 0) X0 = X1 = X2 = X3 = X4 = X5 = X6 = X7 = x;
        switch (Count)
        {
            case 0: break;
            case 1: X1 = x; break;
            case 2: X2 = x; break;
            case 3: X3 = x; break;
            case 4: X4 = x; break;
            case 5: X5 = x; break;
            case 6: X6 = x; break;
            case 7: X7 = x; break;
            default: throw new ArgumentException($"linear combination: at most {ElementwiseKernels.MaxTerms} terms");
        }
        Count++;
    }

    /// <summary>Term <paramref name="i"/> (host side).</summary>
    public readonly ArrayView<float> this[int i] => i switch
    {
        0 => X0,
        1 => X1,
        2 => X2,
        3 => X3,
        4 => X4,
        5 => X5,
        6 => X6,
        7 => X7,
        _ => throw new ArgumentOutOfRangeException(nameof(i)),
    };
}

/// <summary>
/// Memory-bound element-wise kernels, one thread per output element: channel concat, axpby/scale, clamp and
/// the sampler's linear combination. Outputs may be the same view as an input: each thread reads its element
/// of every input before writing it. Shapes are checked by the callers (the <c>Backend</c> ops).
/// </summary>
internal sealed class ElementwiseKernels
{
    /// <summary>Most terms a linear combination takes.</summary>
    public const int MaxTerms = 8;

    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> _concat;
    private readonly Action<AcceleratorStream, Index1D, float, ArrayView<float>, float, ArrayView<float>, ArrayView<float>> _axpby;
    private readonly Action<AcceleratorStream, Index1D, float, ArrayView<float>, ArrayView<float>> _scale;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, float, float, ArrayView<float>> _clamp;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, TermViews, TermCoefficients> _combineShared;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, TermViews, ArrayView<float>, int, int> _combinePerSample;

    /// <summary>Compiles the kernels for <paramref name="accelerator"/>.</summary>
    public ElementwiseKernels(Accelerator accelerator)
    {
        _concat = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(Concat);
        _axpby = accelerator.LoadAutoGroupedKernel<Index1D, float, ArrayView<float>, float, ArrayView<float>, ArrayView<float>>(Axpby);
        _scale = accelerator.LoadAutoGroupedKernel<Index1D, float, ArrayView<float>, ArrayView<float>>(Scale);
        _clamp = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, float, float, ArrayView<float>>(Clamp);
        _combineShared = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, TermViews, TermCoefficients>(CombineShared);
        _combinePerSample = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, TermViews, ArrayView<float>, int, int>(CombinePerSample);
    }

    /// <summary>y [batch, aSample + bSample] = per-sample concatenation of a [batch, aSample] and b [batch, bSample].</summary>
    public void ConcatChannels(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, int batch, int aSample, int bSample)
    {
        if (y.Length > 0) _concat(LaunchCounter.Count(stream), Threads(y.Length, "concat channels"), a, b, y, aSample, bSample);
    }

    /// <summary>y = alpha·a + beta·b over views of equal length; y may be a or b.</summary>
    public void Axpby(AcceleratorStream stream, float alpha, ArrayView<float> a, float beta, ArrayView<float> b, ArrayView<float> y)
    {
        if (y.Length > 0) _axpby(LaunchCounter.Count(stream), Threads(y.Length, "axpby"), alpha, a, beta, b, y);
    }

    /// <summary>y = alpha·x; y may be x.</summary>
    public void Scale(AcceleratorStream stream, float alpha, ArrayView<float> x, ArrayView<float> y)
    {
        if (y.Length > 0) _scale(LaunchCounter.Count(stream), Threads(y.Length, "scale"), alpha, x, y);
    }

    /// <summary>y = min(max(x, lo), hi) with NaN passing through; y may be x.</summary>
    public void Clamp(AcceleratorStream stream, ArrayView<float> x, float lo, float hi, ArrayView<float> y)
    {
        if (y.Length > 0) _clamp(LaunchCounter.Count(stream), Threads(y.Length, "clamp"), x, lo, hi, y);
    }

    /// <summary>y = Σᵢ cᵢ·xᵢ with one coefficient per term (1 to <see cref="MaxTerms"/>), passed as kernel arguments.</summary>
    public void LinearCombination(AcceleratorStream stream, ArrayView<float> y, in TermViews xs, ReadOnlySpan<float> coefficients)
    {
        if (y.Length > 0) _combineShared(LaunchCounter.Count(stream), Threads(y.Length, "linear combination"), y, xs, TermCoefficients.From(coefficients));
    }

    /// <summary>
    /// y[s] = Σᵢ cᵢ[s]·xᵢ[s] over <paramref name="batch"/> equal samples, with the coefficients on the device, term-major
    /// (c[i·batch + s]); the caller uploads them on <paramref name="stream"/> before this launch.
    /// </summary>
    public void LinearCombinationPerSample(AcceleratorStream stream, ArrayView<float> y, in TermViews xs, ArrayView<float> coefficients, int batch)
    {
        if (y.Length > 0) _combinePerSample(LaunchCounter.Count(stream), Threads(y.Length, "linear combination"), y, xs, coefficients, batch, (int)(y.Length / batch));
    }

    /// <summary>A 1-D launch of <paramref name="n"/> threads (ILGPU's auto-grouped launches index with int).</summary>
    internal static Index1D Threads(long n, string op) =>
        n <= int.MaxValue ? new Index1D((int)n) : throw new ArgumentException($"{op}: {n} elements exceed the {int.MaxValue} a launch can index");

    /// <summary>Shared coefficients as kernel arguments.</summary>
    public struct TermCoefficients
    {
        /// <summary>Coefficient of each term (unused ones 0).</summary>
        public float C0, C1, C2, C3, C4, C5, C6, C7;

        /// <summary>Packs 1 to 8 coefficients.</summary>
        public static TermCoefficients From(ReadOnlySpan<float> c)
        {
            var t = new TermCoefficients();
            Span<float> all = [0, 0, 0, 0, 0, 0, 0, 0];
            c.CopyTo(all);
            (t.C0, t.C1, t.C2, t.C3, t.C4, t.C5, t.C6, t.C7) = (all[0], all[1], all[2], all[3], all[4], all[5], all[6], all[7]);
            return t;
        }
    }

    private static void Concat(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, int aSample, int bSample)
    {
        int ySample = aSample + bSample;
        int n = i / ySample;
        int r = i - n * ySample;
        if (r < aSample) y[i] = a[n * aSample + r];
        else y[i] = b[n * bSample + r - aSample];
    }

    private static void Axpby(Index1D i, float alpha, ArrayView<float> a, float beta, ArrayView<float> b, ArrayView<float> y) =>
        y[i] = alpha * a[i] + beta * b[i];

    private static void Scale(Index1D i, float alpha, ArrayView<float> x, ArrayView<float> y) => y[i] = alpha * x[i];

    private static void Clamp(Index1D i, ArrayView<float> x, float lo, float hi, ArrayView<float> y)
    {
        float v = x[i];
        y[i] = v < lo ? lo : v > hi ? hi : v; // NaN fails both tests and passes through
    }

    // The term count is uniform across the launch, so these branches never diverge.
    private static void CombineShared(Index1D i, ArrayView<float> y, TermViews x, TermCoefficients c)
    {
        float acc = c.C0 * x.X0[i];
        if (x.Count > 1) acc += c.C1 * x.X1[i];
        if (x.Count > 2) acc += c.C2 * x.X2[i];
        if (x.Count > 3) acc += c.C3 * x.X3[i];
        if (x.Count > 4) acc += c.C4 * x.X4[i];
        if (x.Count > 5) acc += c.C5 * x.X5[i];
        if (x.Count > 6) acc += c.C6 * x.X6[i];
        if (x.Count > 7) acc += c.C7 * x.X7[i];
        y[i] = acc;
    }

    private static void CombinePerSample(Index1D i, ArrayView<float> y, TermViews x, ArrayView<float> c, int batch, int sampleLength)
    {
        int s = i / sampleLength;
        float acc = c[s] * x.X0[i];
        if (x.Count > 1) acc += c[batch + s] * x.X1[i];
        if (x.Count > 2) acc += c[2 * batch + s] * x.X2[i];
        if (x.Count > 3) acc += c[3 * batch + s] * x.X3[i];
        if (x.Count > 4) acc += c[4 * batch + s] * x.X4[i];
        if (x.Count > 5) acc += c[5 * batch + s] * x.X5[i];
        if (x.Count > 6) acc += c[6 * batch + s] * x.X6[i];
        if (x.Count > 7) acc += c[7 * batch + s] * x.X7[i];
        y[i] = acc;
    }
}
