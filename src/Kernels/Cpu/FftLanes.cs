using System.Buffers;
using System.Collections.Concurrent;
using System.Numerics;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Unscaled 1-D FFTs of many lines at once: a line of n complex values is stored as n rows of <c>lanes</c> floats
/// (element j of every line at re[j·lanes + lane]), so every butterfly is one SIMD operation across the lines. Runs
/// a <see cref="FftPlan"/>: radix-2, Stockham mixed radix, or Bluestein through radix-2 transforms of the padded length.
/// </summary>
internal static class FftLanes
{
    private static readonly ConcurrentDictionary<int, (float[] Cos, float[] Sin)> Tables = new();
    private static readonly ConcurrentDictionary<(int, bool), Chirp> Chirps = new();

    /// <summary>Bluestein's tables for (n, direction): the chirp c_k = e^{±iπk²/n} and B̂ = FFT_m(conj(c)) over |k| &lt; n, wrapped.</summary>
    private sealed record Chirp(float[] Re, float[] Im, float[] BRe, float[] BIm);

    /// <summary>cos and sin of 2πk/n for k in [0, n), computed in double once per size.</summary>
    public static (float[] Cos, float[] Sin) Table(int n) => Tables.GetOrAdd(n, static n =>
    {
        var c = new float[n];
        var s = new float[n];
        for (int k = 0; k < n; k++)
        {
            double a = 2 * Math.PI * k / n;
            c[k] = (float)Math.Cos(a);
            s[k] = (float)Math.Sin(a);
        }
        return (c, s);
    });

    /// <summary>Transforms the lines in place: e^{−2πi jk/n} forward, e^{+2πi jk/n} inverse, no scaling.</summary>
    public static unsafe void Transform(float* re, float* im, int lanes, FftPlan plan, bool inverse)
    {
        switch (plan.Algorithm)
        {
            case FftAlgorithm.Radix2: Radix2(re, im, lanes, plan.Length, inverse); break;
            case FftAlgorithm.MixedRadix: Stockham(re, im, lanes, plan, inverse); break;
            default: Bluestein(re, im, lanes, plan, inverse); break;
        }
    }

    private static unsafe void Radix2(float* re, float* im, int lanes, int n, bool inverse)
    {
        if (n == 1) return;
        var t = Table(n);
        float sign = inverse ? 1f : -1f;
        int bits = BitOperations.Log2((uint)n);
        // Bit-reversal permutation in place by swapping line rows.
        for (int i = 0; i < n; i++)
        {
            int j = (int)(ReverseBits((uint)i) >> (32 - bits));
            if (j <= i) continue;
            SwapRows(re + (long)i * lanes, re + (long)j * lanes, lanes);
            SwapRows(im + (long)i * lanes, im + (long)j * lanes, lanes);
        }
        for (int len = 2; len <= n; len <<= 1)
        {
            int half = len >> 1, step = n / len;
            for (int start = 0; start < n; start += len)
                for (int k = 0; k < half; k++)
                {
                    long a = (long)(start + k) * lanes, b = a + (long)half * lanes;
                    Butterfly(re + a, im + a, re + b, im + b, lanes, t.Cos[k * step], sign * t.Sin[k * step]);
                }
        }
    }

    /// <summary>
    /// Stockham autosort: pass with radix R over sub-transforms of length Ns (the product of the earlier radices) maps
    /// input j + r·n/R (r &lt; R) to output (j div Ns)·Ns·R + (j mod Ns) + q·Ns, q &lt; R, by an R-point DFT after the
    /// twiddles e^{∓2πi (j mod Ns)·r/(Ns·R)}; both folded into one table index of e^{∓2πi t/n}.
    /// </summary>
    private static unsafe void Stockham(float* re, float* im, int lanes, FftPlan plan, bool inverse)
    {
        int n = plan.Length;
        if (n == 1) return;
        var t = Table(n);
        float sign = inverse ? 1f : -1f;
        long size = (long)n * lanes;
        float[] bufRe = ArrayPool<float>.Shared.Rent((int)size), bufIm = ArrayPool<float>.Shared.Rent((int)size);
        try
        {
            fixed (float* br = bufRe, bi = bufIm)
            {
                float* sr = re, si = im, dr = br, di = bi;
                int ns = 1;
                foreach (int radix in plan.Radices)
                {
                    int stride = n / radix, span = n / (ns * radix);
                    for (int j = 0; j < stride; j++)
                    {
                        int k = j % ns, outBase = j / ns * ns * radix + k;
                        for (int q = 0; q < radix; q++)
                        {
                            float* orr = dr + (long)(outBase + q * ns) * lanes, oi = di + (long)(outBase + q * ns) * lanes;
                            new Span<float>(orr, lanes).Clear();
                            new Span<float>(oi, lanes).Clear();
                            for (int r = 0; r < radix; r++)
                            {
                                int tw = (int)(((long)k * r * span + (long)r * q * stride) % n);
                                long at = (long)(j + r * stride) * lanes;
                                MultiplyAccumulate(sr + at, si + at, orr, oi, lanes, t.Cos[tw], sign * t.Sin[tw]);
                            }
                        }
                    }
                    float* tr = sr, ti = si;
                    sr = dr; si = di;
                    dr = tr; di = ti;
                    ns *= radix;
                }
                if (sr != re)
                {
                    new ReadOnlySpan<float>(sr, (int)size).CopyTo(new Span<float>(re, (int)size));
                    new ReadOnlySpan<float>(si, (int)size).CopyTo(new Span<float>(im, (int)size));
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(bufRe);
            ArrayPool<float>.Shared.Return(bufIm);
        }
    }

    /// <summary>X_k = c_k·Σ_j (x_j c_j)·conj(c_{k−j}) with c_k = e^{∓iπk²/n}: a cyclic convolution of length m by radix-2 FFTs.</summary>
    private static unsafe void Bluestein(float* re, float* im, int lanes, FftPlan plan, bool inverse)
    {
        int n = plan.Length, m = plan.PaddedLength;
        var chirp = Chirps.GetOrAdd((n, inverse), static key => MakeChirp(key.Item1, (int)BitOperations.RoundUpToPowerOf2((uint)(2 * key.Item1 - 1)), key.Item2));
        long size = (long)m * lanes;
        float[] aRe = ArrayPool<float>.Shared.Rent((int)size), aIm = ArrayPool<float>.Shared.Rent((int)size);
        try
        {
            fixed (float* ar = aRe, ai = aIm)
            {
                for (int k = 0; k < n; k++)
                {
                    long at = (long)k * lanes;
                    float cr = chirp.Re[k], ci = chirp.Im[k];
                    for (int l = 0; l < lanes; l++)
                    {
                        float xr = re[at + l], xi = im[at + l];
                        ar[at + l] = xr * cr - xi * ci;
                        ai[at + l] = xr * ci + xi * cr;
                    }
                }
                new Span<float>(ar + (long)n * lanes, (int)(size - (long)n * lanes)).Clear();
                new Span<float>(ai + (long)n * lanes, (int)(size - (long)n * lanes)).Clear();
                Radix2(ar, ai, lanes, m, inverse: false);
                for (int k = 0; k < m; k++)
                {
                    long at = (long)k * lanes;
                    float br = chirp.BRe[k], bi = chirp.BIm[k];
                    for (int l = 0; l < lanes; l++)
                    {
                        float xr = ar[at + l], xi = ai[at + l];
                        ar[at + l] = xr * br - xi * bi;
                        ai[at + l] = xr * bi + xi * br;
                    }
                }
                Radix2(ar, ai, lanes, m, inverse: true);
                float scale = 1f / m;
                for (int k = 0; k < n; k++)
                {
                    long at = (long)k * lanes;
                    float cr = chirp.Re[k] * scale, ci = chirp.Im[k] * scale;
                    for (int l = 0; l < lanes; l++)
                    {
                        float xr = ar[at + l], xi = ai[at + l];
                        re[at + l] = xr * cr - xi * ci;
                        im[at + l] = xr * ci + xi * cr;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(aRe);
            ArrayPool<float>.Shared.Return(aIm);
        }
    }

    private static unsafe Chirp MakeChirp(int n, int m, bool inverse)
    {
        double sign = inverse ? 1 : -1;
        var cRe = new float[n];
        var cIm = new float[n];
        for (int k = 0; k < n; k++)
        {
            // k² mod 2n keeps the angle small and exact before the double-precision sine.
            double a = sign * Math.PI * ((long)k * k % (2L * n)) / n;
            cRe[k] = (float)Math.Cos(a);
            cIm[k] = (float)Math.Sin(a);
        }
        var bRe = new float[m];
        var bIm = new float[m];
        for (int k = 0; k < n; k++)
        {
            bRe[k] = cRe[k];
            bIm[k] = -cIm[k];
            if (k > 0)
            {
                bRe[m - k] = cRe[k];
                bIm[m - k] = -cIm[k];
            }
        }
        fixed (float* br = bRe, bi = bIm) Radix2(br, bi, 1, m, inverse: false);
        return new Chirp(cRe, cIm, bRe, bIm);
    }

    private static uint ReverseBits(uint v)
    {
        v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
        v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
        v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
        v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
        return (v >> 16) | (v << 16);
    }

    private static unsafe void SwapRows(float* a, float* b, int n)
    {
        for (int i = 0; i < n; i++) (a[i], b[i]) = (b[i], a[i]);
    }

    /// <summary>(a, b) ← (a + w·b, a − w·b) over <paramref name="n"/> complex values.</summary>
    private static unsafe void Butterfly(float* ar, float* ai, float* br, float* bi, int n, float wr, float wi)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vwr = new Vector<float>(wr);
            var vwi = new Vector<float>(wi);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            {
                var xr = Vector.Load(br + i);
                var xi = Vector.Load(bi + i);
                var tr = xr * vwr - xi * vwi;
                var ti = xr * vwi + xi * vwr;
                var yr = Vector.Load(ar + i);
                var yi = Vector.Load(ai + i);
                (yr - tr).Store(br + i);
                (yi - ti).Store(bi + i);
                (yr + tr).Store(ar + i);
                (yi + ti).Store(ai + i);
            }
        }
        for (; i < n; i++)
        {
            float tr = br[i] * wr - bi[i] * wi, ti = br[i] * wi + bi[i] * wr;
            br[i] = ar[i] - tr;
            bi[i] = ai[i] - ti;
            ar[i] += tr;
            ai[i] += ti;
        }
    }

    /// <summary>d += w·s over <paramref name="n"/> complex values.</summary>
    private static unsafe void MultiplyAccumulate(float* sr, float* si, float* dr, float* di, int n, float wr, float wi)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vwr = new Vector<float>(wr);
            var vwi = new Vector<float>(wi);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            {
                var xr = Vector.Load(sr + i);
                var xi = Vector.Load(si + i);
                (Vector.Load(dr + i) + xr * vwr - xi * vwi).Store(dr + i);
                (Vector.Load(di + i) + xr * vwi + xi * vwr).Store(di + i);
            }
        }
        for (; i < n; i++)
        {
            dr[i] += sr[i] * wr - si[i] * wi;
            di[i] += sr[i] * wi + si[i] * wr;
        }
    }
}
