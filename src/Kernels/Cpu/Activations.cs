using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Element-wise nonlinearities over spans, SIMD with <see cref="Vector{T}"/>: the CPU twin of
/// <see cref="ActivationMath"/> (same formulas, same erf/erfc coefficients). Every element, tails included, goes
/// through the same vector code, so results do not depend on position.
/// </summary>
internal static class Activations
{
    /// <summary>Elements below which a call stays on one core.</summary>
    internal const int ParallelThreshold = 1 << 15;

    /// <summary>y = act(x) element-wise, parallel over both cores when large; y may be x.</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, Activation activation)
    {
        if (x.Length < ParallelThreshold)
        {
            AffineForward(x, y, 1f, 0f, activation);
            return;
        }
        int chunks = Math.Min(4 * Environment.ProcessorCount, x.Length / (ParallelThreshold / 2));
        long chunk = ((long)x.Length + chunks - 1) / chunks;
        chunk = (chunk + Vector<float>.Count - 1) / Vector<float>.Count * Vector<float>.Count;
        unsafe
        {
            fixed (float* px = x, py = y)
            {
                nint xp = (nint)px, yp = (nint)py;
                int length = x.Length;
                Parallel.For(0, chunks, i =>
                {
                    long start = i * chunk, count = Math.Min(chunk, length - start);
                    if (count > 0)
                        AffineForward(new ReadOnlySpan<float>((float*)xp + start, (int)count), new Span<float>((float*)yp + start, (int)count), 1f, 0f, activation);
                });
            }
        }
    }

    /// <summary>
    /// y = act((x − center)·scale + shift) on one core; y may be x. GroupNorm (center = the group mean, so a large
    /// mean does not cancel after scaling), ScaleShift and AddChannelBias (center 0) run their rows through this.
    /// </summary>
    public static void AffineForward(ReadOnlySpan<float> x, Span<float> y, float scale, float shift, Activation activation, float center = 0f)
    {
        switch (activation)
        {
            case Activation.Identity: AffineLoop<IdentityOp>(x, y, center, scale, shift); break;
            case Activation.SiLU: AffineLoop<SiLUOp>(x, y, center, scale, shift); break;
            case Activation.GeluTanh: AffineLoop<GeluTanhOp>(x, y, center, scale, shift); break;
            case Activation.GeluExact: AffineLoop<GeluExactOp>(x, y, center, scale, shift); break;
            case Activation.Mish: AffineLoop<MishOp>(x, y, center, scale, shift); break;
            case Activation.Relu: AffineLoop<ReluOp>(x, y, center, scale, shift); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, "activation: unknown activation");
        }
    }

    /// <summary>act(x) for one value, through the same vector code as the span methods.</summary>
    public static float Apply(float x, Activation activation)
    {
        Span<float> one = [x];
        AffineForward(one, one, 1f, 0f, activation);
        return one[0];
    }

    /// <summary>erf(x) to about 1e-7 absolute (erfc to about 1e-6 relative); see <see cref="ErfcOfLarge"/>.</summary>
    public static float Erf(float x)
    {
        var a = Vector.Abs(new Vector<float>(x));
        var erf = Vector.ConditionalSelect(Vector.LessThanOrEqual(a, Vector<float>.One), ErfSmall(a), Vector<float>.One - ErfcOfLarge(a, a, Vector<float>.One));
        return x < 0 ? -erf[0] : erf[0];
    }

    private static void AffineLoop<TAct>(ReadOnlySpan<float> x, Span<float> y, float center, float scale, float shift) where TAct : struct, IActivationOp
    {
        int w = Vector<float>.Count, n = x.Length, i = 0;
        var vc = new Vector<float>(center);
        var vs = new Vector<float>(scale);
        var vb = new Vector<float>(shift);
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= n - w; i += w)
            Vector.StoreUnsafe(TAct.Apply(Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref xr, (nuint)i) - vc, vs, vb)), ref yr, (nuint)i);
        if (i == n) return;
        // The tail goes through a padded vector so it sees exactly the same arithmetic.
        Span<float> pad = stackalloc float[w];
        pad.Clear();
        x[i..].CopyTo(pad);
        var v = TAct.Apply(Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref MemoryMarshal.GetReference(pad)) - vc, vs, vb));
        Vector.StoreUnsafe(v, ref MemoryMarshal.GetReference(pad));
        pad[..(n - i)].CopyTo(y[i..]);
    }

    private interface IActivationOp
    {
        static abstract Vector<float> Apply(Vector<float> x);
    }

    private struct IdentityOp : IActivationOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<float> Apply(Vector<float> x) => x;
    }

    private struct SiLUOp : IActivationOp
    {
        // x / (1 + e^-x): for x ≪ 0 the exponential overflows to +∞ and the quotient is −0, never NaN.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<float> Apply(Vector<float> x) => x / (Vector<float>.One + Exp(-x));
    }

    private struct GeluTanhOp : IActivationOp
    {
        // 0.5·x·(1 + tanh u) = x·sigmoid(2u), u = √(2/π)·(x + 0.044715·x³): one exponential, no tanh.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<float> Apply(Vector<float> x)
        {
            var twoU = x * Vector.FusedMultiplyAdd(x * x, new Vector<float>(ActivationMath.Cubic), new Vector<float>(ActivationMath.TwoSqrtTwoOverPi));
            return x / (Vector<float>.One + Exp(-twoU));
        }
    }

    private struct GeluExactOp : IActivationOp
    {
        // x·Φ(x), Φ(x) = 1 − erfc(x/√2)/2 for x ≥ 0 and erfc(|x|/√2)/2 for x < 0: the negative tail keeps its
        // relative accuracy instead of cancelling in 1 + erf. The Gaussian factor e^(−x²/2) is taken from x, not
        // from the rounded x/√2, whose rounding would cost ~x²·2⁻²⁴ relative.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<float> Apply(Vector<float> x)
        {
            var a = Vector.Abs(x) * new Vector<float>(0.70710678118654752f);
            var erfc = Vector.ConditionalSelect(Vector.LessThanOrEqual(a, Vector<float>.One), Vector<float>.One - ErfSmall(a),
                ErfcOfLarge(a, Vector.Abs(x), new Vector<float>(0.5f)));
            var half = erfc * new Vector<float>(0.5f);
            var cdf = Vector.ConditionalSelect(Vector.LessThan(x, Vector<float>.Zero), half, Vector<float>.One - half);
            return x * cdf;
        }
    }

    private struct MishOp : IActivationOp
    {
        // tanh(log(1 + e^x)) = n / (n + 2) with n = e^x·(e^x + 2); above 20 it is 1 in float.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<float> Apply(Vector<float> x)
        {
            var big = new Vector<float>(20f);
            var e = Exp(Vector.Min(x, big));
            var n = e * (e + new Vector<float>(2f));
            return Vector.ConditionalSelect(Vector.GreaterThan(x, big), x, x * n / (n + new Vector<float>(2f)));
        }
    }

    private struct ReluOp : IActivationOp
    {
        // Select rather than max so NaN passes through.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<float> Apply(Vector<float> x) => Vector.ConditionalSelect(Vector.LessThanOrEqual(x, Vector<float>.Zero), Vector<float>.Zero, x);
    }

    /// <summary>
    /// e^x in float SIMD (within ~2 ulp): x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-7 Taylor polynomial
    /// (truncation below 6e-9 relative), 2^n put into the exponent bits. Results below float's smallest normal are 0,
    /// above e^88 +∞; NaN stays NaN. About twice as fast as Vector.Exp, which works in double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<float> Exp(Vector<float> x)
    {
        const float Low = -87.33654f, High = 88f; // e^Low = 2^−126; n ≤ 127 up to High
        var clamped = Vector.Min(Vector.Max(x, new Vector<float>(Low)), new Vector<float>(High));
        var n = Vector.Round(clamped * new Vector<float>(1.44269504088896341f));
        var r = Vector.FusedMultiplyAdd(n, new Vector<float>(-0.693145751953125f), clamped); // ln 2, high part (exact product)
        r = Vector.FusedMultiplyAdd(n, new Vector<float>(-1.4286068202862268e-6f), r);     // ln 2, low part
        var p = Vector.FusedMultiplyAdd(new Vector<float>(1f / 5040), r, new Vector<float>(1f / 720));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1f / 120));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1f / 24));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1f / 6));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(0.5f));
        p = Vector.FusedMultiplyAdd(p, r, Vector<float>.One);
        p = Vector.FusedMultiplyAdd(p, r, Vector<float>.One);
        var twoToN = Vector.AsVectorSingle(Vector.ShiftLeft(Vector.ConvertToInt32(n) + new Vector<int>(127), 23));
        var e = p * twoToN;
        e = Vector.ConditionalSelect(Vector.LessThan(x, new Vector<float>(Low)), Vector<float>.Zero, e);
        return Vector.ConditionalSelect(Vector.GreaterThan(x, new Vector<float>(High)), new Vector<float>(float.PositiveInfinity), e);
    }

    // The erf/erfc coefficients are ActivationMath's (the scalar twin's), so CPU and GPU use the same fits.
    private const float ErfP0 = ActivationMath.ErfP0, ErfP1 = ActivationMath.ErfP1, ErfP2 = ActivationMath.ErfP2, ErfP3 = ActivationMath.ErfP3,
        ErfP4 = ActivationMath.ErfP4, ErfP5 = ActivationMath.ErfP5, ErfP6 = ActivationMath.ErfP6;
    private const float ErfcQ0 = ActivationMath.ErfcQ0, ErfcQ1 = ActivationMath.ErfcQ1, ErfcQ2 = ActivationMath.ErfcQ2, ErfcQ3 = ActivationMath.ErfcQ3,
        ErfcQ4 = ActivationMath.ErfcQ4, ErfcQ5 = ActivationMath.ErfcQ5, ErfcQ6 = ActivationMath.ErfcQ6, ErfcQ7 = ActivationMath.ErfcQ7,
        ErfcQ8 = ActivationMath.ErfcQ8, ErfcMaxArgument = ActivationMath.ErfcMaxArgument;

    /// <summary>erf(a) for 0 ≤ a ≤ 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> ErfSmall(Vector<float> a)
    {
        var w = a * a;
        var p = Vector.FusedMultiplyAdd(new Vector<float>(ErfP6), w, new Vector<float>(ErfP5));
        p = Vector.FusedMultiplyAdd(p, w, new Vector<float>(ErfP4));
        p = Vector.FusedMultiplyAdd(p, w, new Vector<float>(ErfP3));
        p = Vector.FusedMultiplyAdd(p, w, new Vector<float>(ErfP2));
        p = Vector.FusedMultiplyAdd(p, w, new Vector<float>(ErfP1));
        p = Vector.FusedMultiplyAdd(p, w, new Vector<float>(ErfP0));
        return a * p;
    }

    /// <summary>
    /// erfc(a) for a ≥ 1 (meaningless below), given a² = <paramref name="scale"/>·u² (scale a power of two) for u
    /// ≥ 0 exact in float: the Gaussian e^(−a²) then carries the rounding error of u² through an FMA.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> ErfcOfLarge(Vector<float> a, Vector<float> u, Vector<float> scale)
    {
        var max = new Vector<float>(ErfcMaxArgument);
        u = Vector.Min(u, new Vector<float>(16f)); // keeps u² finite (an ∞ would make the FMA NaN); e^(−a²) is 0 long before
        a = Vector.Min(a, max);
        var two = new Vector<float>(2f);
        var t = two / (two + a);
        var q = Vector.FusedMultiplyAdd(new Vector<float>(ErfcQ8), t, new Vector<float>(ErfcQ7));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(ErfcQ6));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(ErfcQ5));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(ErfcQ4));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(ErfcQ3));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(ErfcQ2));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(ErfcQ1));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(ErfcQ0));
        var square = u * u;
        var squareError = Vector.FusedMultiplyAdd(u, u, -square); // u² = square + squareError exactly
        var gauss = Exp(-scale * square) * (Vector<float>.One - scale * squareError);
        return gauss * t * q;
    }
}
