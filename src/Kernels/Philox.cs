using System.Numerics;
using System.Runtime.CompilerServices;

namespace DiffusionKernels.Kernels;

/// <summary>Four 32-bit words: one Philox counter, or one Philox output block.</summary>
internal struct PhiloxBlock
{
    /// <summary>Word 0.</summary>
    public uint X0;
    /// <summary>Word 1.</summary>
    public uint X1;
    /// <summary>Word 2.</summary>
    public uint X2;
    /// <summary>Word 3.</summary>
    public uint X3;

    /// <summary>A block of four words.</summary>
    public PhiloxBlock(uint x0, uint x1, uint x2, uint x3)
    {
        X0 = x0;
        X1 = x1;
        X2 = x2;
        X3 = x3;
    }
}

/// <summary>cos θ and sin θ as Q31 fixed-point integers (2³¹ = 1).</summary>
internal struct CosSin
{
    /// <summary>cos θ · 2³¹.</summary>
    public long Cos;
    /// <summary>sin θ · 2³¹.</summary>
    public long Sin;
}

/// <summary>Two standard normal values.</summary>
internal struct NormalPair
{
    /// <summary>r·cos θ.</summary>
    public float Z0;
    /// <summary>r·sin θ.</summary>
    public float Z1;
}

/// <summary>
/// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the
/// Random123 constants) and a normal transform built only from integer arithmetic, so the CPU backend, ILGPU's
/// CPU accelerator and CUDA produce the same bits. Every method is static over plain values and usable inside
/// ILGPU kernels.
/// </summary>
/// <remarks>
/// <para><b>Noise layout</b> (used by <c>Backend.RandomNormal(y, seed, firstSampleIndex, offset)</c>): y has N
/// samples of E elements each. Element i of sample n has the stream position p = offset + i (a 64-bit unsigned
/// integer) and the sample number s = firstSampleIndex + n. Its value is lane p mod 4 of the normal quadruple
/// <see cref="NormalQuad"/> of the Philox block</para>
/// <code>
/// counter = (lo32(p / 4), hi32(p / 4), lo32(s), hi32(s)),  key = (lo32(seed), hi32(seed))
/// (w0, w1, w2, w3) = Philox4x32-10(counter, key)
/// lane 0 = r(w0)·cos θ(w1), lane 1 = r(w0)·sin θ(w1), lane 2 = r(w2)·cos θ(w3), lane 3 = r(w2)·sin θ(w3)
/// </code>
/// <para>so the value of an element depends only on (seed, s, p): the same seed gives the same noise for any
/// batch split, and raising <c>offset</c> by k shifts the stream by k elements.</para>
/// <para><b>Box–Muller in fixed point</b> (see <see cref="Radius"/> and <see cref="Angle"/>): r(w) = √(−2 ln u)
/// with u = (w + ½)/2³² ∈ (0, 1), so r ≤ 6.77; θ(w) = 2π·w/2³². Both are evaluated with 64-bit integer
/// arithmetic only (products, arithmetic shifts, one truncating division, a floor square root), which is exact
/// and the same on every device; no floating-point transcendental (which differ between .NET and CUDA) and no
/// float multiply-add (which CUDA's compiler may contract into an FMA) is involved. The result is a Q28 fixed-point
/// integer z (|z| &lt; 2³¹) converted once to float, (float)z · 2⁻²⁸, which is correctly rounded everywhere.
/// Absolute error against exact Box–Muller (in double) is below 1e-8; the discreteness of 32-bit uniforms (r ≥ 1.5e-5,
/// r ≤ 6.77) dominates it.</para>
/// </remarks>
internal static class Philox
{
    /// <summary>Philox4x32 round multipliers.</summary>
    public const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57;

    /// <summary>Philox4x32 key increments (Weyl sequence: golden ratio, √3 − 1).</summary>
    public const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The scale of the fixed-point normals: z = integer · 2⁻²⁸.</summary>
    public const int NormalFractionBits = 28;

    /// <summary>Philox4x32 with 10 rounds: counter (c0..c3) under key (k0, k1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PhiloxBlock Generate(PhiloxBlock counter, uint k0, uint k1)
    {
        // Written out because ILGPU does not unroll loops; the key is bumped between rounds.
        var c = counter;
        c = Round(c, k0, k1); k0 += W0; k1 += W1;
        c = Round(c, k0, k1); k0 += W0; k1 += W1;
        c = Round(c, k0, k1); k0 += W0; k1 += W1;
        c = Round(c, k0, k1); k0 += W0; k1 += W1;
        c = Round(c, k0, k1); k0 += W0; k1 += W1;
        c = Round(c, k0, k1); k0 += W0; k1 += W1;
        c = Round(c, k0, k1); k0 += W0; k1 += W1;
        c = Round(c, k0, k1); k0 += W0; k1 += W1;
        c = Round(c, k0, k1); k0 += W0; k1 += W1;
        return Round(c, k0, k1);
    }

    /// <summary>One Philox4x32 S-box round.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static PhiloxBlock Round(PhiloxBlock c, uint k0, uint k1)
    {
        ulong p0 = (ulong)M0 * c.X0;
        ulong p1 = (ulong)M1 * c.X2;
        return new PhiloxBlock(
            (uint)(p1 >> 32) ^ c.X1 ^ k0,
            (uint)p1,
            (uint)(p0 >> 32) ^ c.X3 ^ k1,
            (uint)p0);
    }

    /// <summary>The Philox output block holding stream position block <paramref name="block"/> (= p / 4) of sample <paramref name="sample"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PhiloxBlock NoiseBlock(ulong seed, ulong sample, ulong block) =>
        Generate(new PhiloxBlock((uint)block, (uint)(block >> 32), (uint)sample, (uint)(sample >> 32)), (uint)seed, (uint)(seed >> 32));

    /// <summary>The four normals of one Philox block as fixed-point Q28 integers, lanes in the documented order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PhiloxBlock NormalQuad(PhiloxBlock w)
    {
        long r0 = Radius(w.X0), r1 = Radius(w.X2);
        var a0 = Angle(w.X1);
        var a1 = Angle(w.X3);
        return new PhiloxBlock(
            (uint)Scale(r0, a0.Cos), (uint)Scale(r0, a0.Sin),
            (uint)Scale(r1, a1.Cos), (uint)Scale(r1, a1.Sin));
    }

    /// <summary>The float value of a fixed-point normal from <see cref="NormalQuad"/> (the word holds a signed Q28 integer).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(uint q28) => (int)q28 * (1f / (1 << NormalFractionBits));

    /// <summary>The normal at stream position <paramref name="position"/> of <paramref name="sample"/> (one element; see the class remarks).</summary>
    public static float Normal(ulong seed, ulong sample, ulong position)
    {
        var q = NormalQuad(NoiseBlock(seed, sample, position >> 2));
        uint lane = (uint)position & 3;
        return ToFloat(lane == 0 ? q.X0 : lane == 1 ? q.X1 : lane == 2 ? q.X2 : q.X3);
    }

    /// <summary>A Box–Muller pair from a radius word and an angle word, as floats.</summary>
    public static NormalPair BoxMuller(uint radiusWord, uint angleWord)
    {
        long r = Radius(radiusWord);
        var a = Angle(angleWord);
        return new NormalPair { Z0 = ToFloat((uint)Scale(r, a.Cos)), Z1 = ToFloat((uint)Scale(r, a.Sin)) };
    }

    // ---------------------------------------------------------------- fixed-point Box–Muller

    private const long One32 = 1L << 32;
    private const ulong Sqrt2Q32 = 6074001000UL;          // √2 · 2³², rounded
    private const long Ln2Q57 = 99893036290645747L;       // 2 ln 2 · 2⁵⁶ = ln 2 · 2⁵⁷, rounded
    private const long PiQ32 = 13493037705L;              // π · 2³²
    // atanh(s)/s = 1 + s²/3 + s⁴/5 + …, coefficients 1/(2k+1) in Q32.
    private const long Inv3 = 1431655765L, Inv5 = 858993459L, Inv7 = 613566757L, Inv9 = 477218588L, Inv11 = 390451572L;
    // sin and cos Taylor coefficients in Q31 (|φ| ≤ π/4).
    private const long One31 = 1L << 31;
    private const long S3 = -357913941L, S5 = 17895697L, S7 = -426088L, S9 = 5918L, S11 = -54L;
    private const long C2 = -1073741824L, C4 = 89478485L, C6 = -2982616L, C8 = 53261L, C10 = -592L, C12 = 4L;

    /// <summary>
    /// r = √(−2 ln u), u = (w + ½)/2³², as a Q28 integer. With v = 2w + 1 = 2^e·m (m ∈ [√½, √2)),
    /// r² = 2(33 − e)·ln 2 − 2 ln m, and 2 ln m = 4 atanh(s) = 4s·P(s²), s = (m − 1)/(m + 1), |s| ≤ 0.172, with P the
    /// atanh series to s¹⁰ (truncation &lt; 2e-11). 4s·P is formed from the exact numerator and denominator of s, so
    /// small radii (u near 1) keep their relative precision. Only integer operations; the square root is the exact
    /// floor square root of r²·2⁵⁶.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Radius(uint w)
    {
        ulong v = ((ulong)w << 1) | 1;                     // 2w + 1 ∈ [1, 2³³)
        int e = 63 - BitOperations.LeadingZeroCount(v);    // ⌊log2 v⌋ ∈ [0, 32]
        long m = (long)(v << (32 - e));                    // mantissa in Q32, [2³², 2³³)
        long unit = One32;
        if ((ulong)m >= Sqrt2Q32)
        {
            unit = One32 << 1;                             // m/2 ∈ [√½, 1): the same number, one exponent up
            e++;
        }
        long num = m - unit, den = m + unit;               // s = num/den; |num| < 0.59·2³², den < 2³⁴
        long s = (num << 31) / (den >> 1);                 // Q32, only feeds the series
        long s2 = (s * s) >> 32;
        long p = Inv11;
        p = Inv9 + ((s2 * p) >> 32);
        p = Inv7 + ((s2 * p) >> 32);
        p = Inv5 + ((s2 * p) >> 32);
        p = Inv3 + ((s2 * p) >> 32);
        p = One32 + ((s2 * p) >> 32);                      // P(s²) in Q32, < 1.0102·2³²
        long a = num * (p >> 2);                           // num·P in Q30 units, |a| < 2⁶²
        long q = a / den;                                  // 4s·P·2⁵⁶ = a·2²⁸/den, divided in two exact steps
        long twoLnM = (q << 28) + (((a - q * den) << 28) / den);
        long r2 = (33 - e) * Ln2Q57 - twoLnM;              // r² in Q56, ≤ 45.8·2⁵⁶
        return (long)FloorSqrt(r2 < 0 ? 0UL : (ulong)r2);  // r in Q28
    }

    /// <summary>(cos θ, sin θ) for θ = 2π·w/2³² as Q31 integers in [−2³¹, 2³¹].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CosSin Angle(uint w)
    {
        uint quadrant = ((w + 0x20000000u) >> 30) & 3;    // nearest multiple of a quarter turn
        long f = (int)(w - (quadrant << 30));             // remainder in 2⁻³² turns, [−2²⁹, 2²⁹)
        long phi = (f * PiQ32) >> 32;                      // 2π·f/2³² radians in Q31, |φ| ≤ π/4
        long p2 = (phi * phi) >> 31;
        long sp = S11;
        sp = S9 + ((p2 * sp) >> 31);
        sp = S7 + ((p2 * sp) >> 31);
        sp = S5 + ((p2 * sp) >> 31);
        sp = S3 + ((p2 * sp) >> 31);
        sp = One31 + ((p2 * sp) >> 31);
        long sin = (phi * sp) >> 31;
        long cp = C12;
        cp = C10 + ((p2 * cp) >> 31);
        cp = C8 + ((p2 * cp) >> 31);
        cp = C6 + ((p2 * cp) >> 31);
        cp = C4 + ((p2 * cp) >> 31);
        cp = C2 + ((p2 * cp) >> 31);
        long cos = One31 + ((p2 * cp) >> 31);
        long c = quadrant == 0 ? cos : quadrant == 1 ? -sin : quadrant == 2 ? -cos : sin;
        long s = quadrant == 0 ? sin : quadrant == 1 ? cos : quadrant == 2 ? -sin : -cos;
        return new CosSin { Cos = c, Sin = s };
    }

    /// <summary>r (Q28) times a Q31 cosine or sine, rounded to nearest, as a Q28 integer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Scale(long r, long trig) => (int)((r * trig + (1L << 30)) >> 31);

    /// <summary>⌊√n⌋ for n &lt; 2⁶²: a double estimate corrected with exact integer comparisons, so the result does not depend on the device's sqrt.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong FloorSqrt(ulong n)
    {
        ulong r = (ulong)Math.Sqrt(n);
        while (r * r > n) r--;
        while ((r + 1) * (r + 1) <= n) r++;
        return r;
    }
}
