using System.Buffers;
using System.Collections.Concurrent;
using System.Numerics;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Where the planes of a batched 2-D FFT live: B·C planes of H×W, plane (b, c) of a part starting at
/// <c>offset + b·batchStride + c·H·W</c> elements into that part's buffer. Separate real/imaginary tensors
/// [B, C, H, W] have offsets 0 and batch stride C·H·W; a packed complex tensor [B, 2, H, W] (channel 0 real,
/// channel 1 imaginary) has offsets 0 and H·W in the same buffer and batch stride 2·H·W.
/// </summary>
public struct Fft2dLayout
{
    /// <summary>Batch size B, planes per sample C, plane height H and width W.</summary>
    public int Batch, Channels, Height, Width;
    /// <summary>Offsets of the input real and imaginary parts, and the input's batch stride.</summary>
    public long InRe, InIm, InBatchStride;
    /// <summary>Offsets of the output real and imaginary parts, and the output's batch stride.</summary>
    public long OutRe, OutIm, OutBatchStride;
    /// <summary>1 when the input has no imaginary part (it is zero and <see cref="InIm"/> is unused).</summary>
    public int RealInput;

    /// <summary>Number of planes B·C.</summary>
    public readonly int Planes => Batch * Channels;

    /// <summary>Offset of plane <paramref name="p"/> of a part at <paramref name="offset"/>.</summary>
    public readonly long PlaneStart(long offset, long batchStride, int p) => offset + p / Channels * batchStride + (long)(p % Channels) * Height * Width;
}

/// <summary>
/// Orthonormal 2-D discrete Fourier transform over the last two dimensions:
/// X[u, v] = (1/√(HW)) Σ x[h, w]·e^{∓2πi(uh/H + vw/W)} (− forward, + inverse), DC at index [0, 0], no fftshift.
/// Rows first (a radix-2 FFT when W is a power of two, a direct DFT otherwise), then columns, transformed as whole
/// rows at a time so the butterflies run SIMD across columns. Output may alias the input (same layout).
/// </summary>
public static class Fft2d
{
    private const int ParallelThreshold = 1 << 14;
    private static readonly ConcurrentDictionary<int, (float[] Cos, float[] Sin)> Tables = new();

    /// <summary>Transforms the planes described by <paramref name="layout"/>; <paramref name="inIm"/> is ignored for real input.</summary>
    public static void Transform(ReadOnlySpan<float> inRe, ReadOnlySpan<float> inIm, Span<float> outRe, Span<float> outIm, Fft2dLayout layout, bool inverse)
    {
        int h = layout.Height, w = layout.Width, planes = layout.Planes;
        if (h < 1 || w < 1 || planes < 1) throw new ArgumentException($"fft2d: bad layout {planes} planes of {h}×{w}");
        CheckExtent("input real part", inRe.Length, layout.InRe, layout.InBatchStride, layout);
        if (layout.RealInput == 0) CheckExtent("input imaginary part", inIm.Length, layout.InIm, layout.InBatchStride, layout);
        CheckExtent("output real part", outRe.Length, layout.OutRe, layout.OutBatchStride, layout);
        CheckExtent("output imaginary part", outIm.Length, layout.OutIm, layout.OutBatchStride, layout);
        var rowTable = Table(w);
        var colTable = Table(h);
        float scale = (float)(1.0 / Math.Sqrt((double)h * w));
        long work = (long)planes * h * w;
        unsafe
        {
            fixed (float* pir = inRe, pii = inIm, por = outRe, poi = outIm)
            {
                nint ir = (nint)pir, ii = (nint)pii, or = (nint)por, oi = (nint)poi;
                int rows = planes * h;
                void Row(int r)
                {
                    int p = r / h, i = r % h;
                    float* src = (float*)ir + layout.PlaneStart(layout.InRe, layout.InBatchStride, p) + (long)i * w;
                    float* srcIm = layout.RealInput != 0 ? null : (float*)ii + layout.PlaneStart(layout.InIm, layout.InBatchStride, p) + (long)i * w;
                    float* dst = (float*)or + layout.PlaneStart(layout.OutRe, layout.OutBatchStride, p) + (long)i * w;
                    float* dstIm = (float*)oi + layout.PlaneStart(layout.OutIm, layout.OutBatchStride, p) + (long)i * w;
                    TransformRow(src, srcIm, dst, dstIm, w, rowTable, inverse);
                }
                if (work >= ParallelThreshold && rows > 1) Parallel.For(0, rows, Row);
                else for (int r = 0; r < rows; r++) Row(r);

                // Columns: each work item takes one plane's band of up to ColumnBand columns.
                const int ColumnBand = 64;
                int bands = (w + ColumnBand - 1) / ColumnBand, items = planes * bands;
                void Columns(int item)
                {
                    int p = item / bands, c0 = item % bands * ColumnBand, cw = Math.Min(ColumnBand, w - c0);
                    float* re = (float*)or + layout.PlaneStart(layout.OutRe, layout.OutBatchStride, p) + c0;
                    float* im = (float*)oi + layout.PlaneStart(layout.OutIm, layout.OutBatchStride, p) + c0;
                    TransformColumns(re, im, h, w, cw, colTable, inverse, scale);
                }
                if (work >= ParallelThreshold && items > 1) Parallel.For(0, items, Columns);
                else for (int k = 0; k < items; k++) Columns(k);
            }
        }
    }

    private static void CheckExtent(string what, int length, long offset, long batchStride, Fft2dLayout l)
    {
        long last = l.PlaneStart(offset, batchStride, l.Planes - 1) + (long)l.Height * l.Width;
        if (offset < 0 || last > length) throw new ArgumentException($"fft2d: {what} holds {length} elements, the layout needs {last}");
    }

    /// <summary>cos and sin of 2πk/n for k in [0, n), computed in double once per size.</summary>
    private static (float[] Cos, float[] Sin) Table(int n) => Tables.GetOrAdd(n, static n =>
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

    private static bool IsPowerOfTwo(int n) => (n & (n - 1)) == 0;

    /// <summary>One unscaled 1-D transform of a row of n values (src may be dst).</summary>
    private static unsafe void TransformRow(float* src, float* srcIm, float* dst, float* dstIm, int n, (float[] Cos, float[] Sin) t, bool inverse)
    {
        float sign = inverse ? 1f : -1f;
        float[] bufRe = ArrayPool<float>.Shared.Rent(n), bufIm = ArrayPool<float>.Shared.Rent(n);
        try
        {
            if (IsPowerOfTwo(n))
            {
                int bits = BitOperations.Log2((uint)n);
                for (int i = 0; i < n; i++)
                {
                    int j = bits == 0 ? 0 : (int)(ReverseBits((uint)i) >> (32 - bits));
                    bufRe[j] = src[i];
                    bufIm[j] = srcIm == null ? 0f : srcIm[i];
                }
                for (int len = 2; len <= n; len <<= 1)
                {
                    int half = len >> 1, step = n / len;
                    for (int start = 0; start < n; start += len)
                        for (int k = 0; k < half; k++)
                        {
                            float wr = t.Cos[k * step], wi = sign * t.Sin[k * step];
                            int a = start + k, b = a + half;
                            float br = bufRe[b] * wr - bufIm[b] * wi, bi = bufRe[b] * wi + bufIm[b] * wr;
                            bufRe[b] = bufRe[a] - br;
                            bufIm[b] = bufIm[a] - bi;
                            bufRe[a] += br;
                            bufIm[a] += bi;
                        }
                }
            }
            else
            {
                for (int i = 0; i < n; i++)
                {
                    bufRe[i] = src[i];
                    bufIm[i] = srcIm == null ? 0f : srcIm[i];
                }
                // Direct DFT in double; the line is copied above so dst may be src.
                for (int k = 0; k < n; k++)
                {
                    double sr = 0, si = 0;
                    for (int j = 0, idx = 0; j < n; j++, idx = idx + k >= n ? idx + k - n : idx + k)
                    {
                        double wr = t.Cos[idx], wi = sign * t.Sin[idx];
                        sr += bufRe[j] * wr - bufIm[j] * wi;
                        si += bufRe[j] * wi + bufIm[j] * wr;
                    }
                    dst[k] = (float)sr;
                    dstIm[k] = (float)si;
                }
                return;
            }
            for (int i = 0; i < n; i++)
            {
                dst[i] = bufRe[i];
                dstIm[i] = bufIm[i];
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(bufRe);
            ArrayPool<float>.Shared.Return(bufIm);
        }
    }

    private static uint ReverseBits(uint v)
    {
        v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
        v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
        v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
        v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
        return (v >> 16) | (v << 16);
    }

    /// <summary>
    /// Transforms <paramref name="cols"/> adjacent columns of length n (row stride <paramref name="stride"/>) in place
    /// and scales by <paramref name="scale"/>: the whole band of each row is one SIMD operand of the butterflies.
    /// </summary>
    private static unsafe void TransformColumns(float* re, float* im, int n, int stride, int cols, (float[] Cos, float[] Sin) t, bool inverse, float scale)
    {
        float sign = inverse ? 1f : -1f;
        int size = n * cols;
        float[] bufRe = ArrayPool<float>.Shared.Rent(size), bufIm = ArrayPool<float>.Shared.Rent(size);
        try
        {
            fixed (float* br = bufRe, bi = bufIm)
            {
                if (IsPowerOfTwo(n))
                {
                    int bits = BitOperations.Log2((uint)n);
                    for (int i = 0; i < n; i++)
                    {
                        int j = bits == 0 ? 0 : (int)(ReverseBits((uint)i) >> (32 - bits));
                        new ReadOnlySpan<float>(re + (long)i * stride, cols).CopyTo(new Span<float>(br + j * cols, cols));
                        new ReadOnlySpan<float>(im + (long)i * stride, cols).CopyTo(new Span<float>(bi + j * cols, cols));
                    }
                    for (int len = 2; len <= n; len <<= 1)
                    {
                        int half = len >> 1, step = n / len;
                        for (int start = 0; start < n; start += len)
                            for (int k = 0; k < half; k++)
                                Butterfly(br + (start + k) * cols, bi + (start + k) * cols, br + (start + k + half) * cols, bi + (start + k + half) * cols,
                                    cols, t.Cos[k * step], sign * t.Sin[k * step]);
                    }
                    for (int i = 0; i < n; i++)
                    {
                        ScaleRow(br + i * cols, re + (long)i * stride, cols, scale);
                        ScaleRow(bi + i * cols, im + (long)i * stride, cols, scale);
                    }
                }
                else
                {
                    for (int i = 0; i < n; i++)
                    {
                        new ReadOnlySpan<float>(re + (long)i * stride, cols).CopyTo(new Span<float>(br + i * cols, cols));
                        new ReadOnlySpan<float>(im + (long)i * stride, cols).CopyTo(new Span<float>(bi + i * cols, cols));
                    }
                    for (int k = 0; k < n; k++)
                    {
                        float* dr = re + (long)k * stride, di = im + (long)k * stride;
                        for (int c = 0; c < cols; c++) { dr[c] = 0f; di[c] = 0f; }
                        for (int j = 0, idx = 0; j < n; j++, idx = idx + k >= n ? idx + k - n : idx + k)
                            MultiplyAccumulate(br + j * cols, bi + j * cols, dr, di, cols, t.Cos[idx], sign * t.Sin[idx]);
                        for (int c = 0; c < cols; c++) { dr[c] *= scale; di[c] *= scale; }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(bufRe);
            ArrayPool<float>.Shared.Return(bufIm);
        }
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
        for (int i = 0; i < n; i++)
        {
            dr[i] += sr[i] * wr - si[i] * wi;
            di[i] += sr[i] * wi + si[i] * wr;
        }
    }

    private static unsafe void ScaleRow(float* src, float* dst, int n, float scale)
    {
        for (int i = 0; i < n; i++) dst[i] = src[i] * scale;
    }
}
