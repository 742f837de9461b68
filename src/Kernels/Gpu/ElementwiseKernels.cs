using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Up to <see cref="ElementwiseKernels.MaxTerms"/> input views of a linear combination, passed to the kernel
/// by value (one launch whatever the term count). Unused slots repeat the first view and are never read.
/// </summary>
public struct TermViews
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
/// of every input before writing it. Per-sample linear-combination coefficients go through a small device
/// buffer owned here (grown on demand, freed by <see cref="Dispose"/> or with the accelerator).
/// </summary>
public sealed class ElementwiseKernels : IDisposable
{
    /// <summary>Most terms a linear combination takes.</summary>
    public const int MaxTerms = 8;

    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> _concat;
    private readonly Action<AcceleratorStream, Index1D, float, ArrayView<float>, float, ArrayView<float>, ArrayView<float>> _axpby;
    private readonly Action<AcceleratorStream, Index1D, float, ArrayView<float>, ArrayView<float>> _scale;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, float, float, ArrayView<float>> _clamp;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, TermViews, TermCoefficients> _combineShared;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, TermViews, ArrayView<float>, int, int> _combinePerSample;
    private MemoryBuffer1D<float, Stride1D.Dense>? _coefficients;

    /// <summary>Compiles the kernels for <paramref name="accelerator"/>.</summary>
    public ElementwiseKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
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
        if (a.Length != (long)batch * aSample || b.Length != (long)batch * bSample || y.Length != (long)batch * (aSample + bSample))
            throw new ArgumentException($"concat channels: inputs have {a.Length} and {b.Length} elements, output {y.Length}; expected {batch}×{aSample}, {batch}×{bSample} and {batch}×{aSample + bSample}");
        if (y.Length > 0) _concat(stream, Threads(y.Length, "concat channels"), a, b, y, aSample, bSample);
    }

    /// <summary>y = alpha·a + beta·b; y may be a or b.</summary>
    public void Axpby(AcceleratorStream stream, float alpha, ArrayView<float> a, float beta, ArrayView<float> b, ArrayView<float> y)
    {
        if (b.Length != a.Length || y.Length != a.Length) throw new ArgumentException($"axpby: a has {a.Length} elements, b {b.Length}, output {y.Length}");
        if (y.Length > 0) _axpby(stream, Threads(y.Length, "axpby"), alpha, a, beta, b, y);
    }

    /// <summary>y = alpha·x; y may be x.</summary>
    public void Scale(AcceleratorStream stream, float alpha, ArrayView<float> x, ArrayView<float> y)
    {
        if (y.Length != x.Length) throw new ArgumentException($"scale: input has {x.Length} elements, output {y.Length}");
        if (y.Length > 0) _scale(stream, Threads(y.Length, "scale"), alpha, x, y);
    }

    /// <summary>y = min(max(x, lo), hi) with NaN passing through; y may be x.</summary>
    public void Clamp(AcceleratorStream stream, ArrayView<float> x, float lo, float hi, ArrayView<float> y)
    {
        if (y.Length != x.Length) throw new ArgumentException($"clamp: input has {x.Length} elements, output {y.Length}");
        if (y.Length > 0) _clamp(stream, Threads(y.Length, "clamp"), x, lo, hi, y);
    }

    /// <summary>
    /// y[s] = Σᵢ cᵢ[s]·xᵢ[s] over <paramref name="batch"/> equal samples, in one launch. Shared coefficients
    /// (one per term) travel as kernel arguments. Per-sample ones (c[i·batch + s]) are copied to a device
    /// buffer on <paramref name="stream"/>: a stream-ordered copy from pageable memory, which the driver stages
    /// before returning, so the host span may go away at once and the host does not wait for the device.
    /// </summary>
    public void LinearCombination(AcceleratorStream stream, ArrayView<float> y, in TermViews xs, ReadOnlySpan<float> coefficients, int batch, bool perSample)
    {
        int terms = xs.Count;
        if (terms < 1 || terms > MaxTerms) throw new ArgumentException($"linear combination: takes 1 to {MaxTerms} terms, found {terms}");
        if (batch < 1 || y.Length % batch != 0) throw new ArgumentException($"linear combination: output of {y.Length} elements does not split into {batch} samples");
        for (int i = 0; i < terms; i++)
            if (xs[i].Length != y.Length) throw new ArgumentException($"linear combination: term {i} has {xs[i].Length} elements, output {y.Length}");
        int expected = perSample ? terms * batch : terms;
        if (coefficients.Length != expected) throw new ArgumentException($"linear combination: expected {expected} coefficients, found {coefficients.Length}");
        if (y.Length == 0) return;
        var threads = Threads(y.Length, "linear combination");
        if (!perSample)
        {
            _combineShared(stream, threads, y, xs, TermCoefficients.From(coefficients));
            return;
        }
        var device = CoefficientBuffer(stream, coefficients.Length);
        unsafe
        {
            fixed (float* c = coefficients) device.CopyFromCPUUnsafeAsync(stream, ref *c, coefficients.Length);
        }
        _combinePerSample(stream, threads, y, xs, device, batch, (int)(y.Length / batch));
    }

    /// <summary>The first <paramref name="length"/> floats of the coefficient buffer, growing it (rarely) when short.</summary>
    private ArrayView<float> CoefficientBuffer(AcceleratorStream stream, int length)
    {
        if (_coefficients is null || _coefficients.Length < length)
        {
            if (_coefficients is not null)
            {
                stream.Synchronize(); // queued launches may still read the old buffer
                _coefficients.Dispose();
            }
            _coefficients = _accelerator.Allocate1D<float>(Math.Max(length, 64));
        }
        return _coefficients.View.SubView(0, length);
    }

    /// <summary>Frees the coefficient buffer.</summary>
    public void Dispose()
    {
        _coefficients?.Dispose();
        _coefficients = null;
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
