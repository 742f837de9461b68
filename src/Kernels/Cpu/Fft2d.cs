using System.Buffers;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Where the planes of a batched 2-D FFT live: B·C planes of H×W, plane (b, c) of a part starting at
/// <c>offset + b·batchStride + c·H·W</c> elements into that part's buffer. Separate real/imaginary tensors
/// [B, C, H, W] have offsets 0 and batch stride C·H·W; a packed complex tensor [B, 2, H, W] (channel 0 real,
/// channel 1 imaginary) has offsets 0 and H·W in the same buffer and batch stride 2·H·W.
/// </summary>
internal struct Fft2dLayout
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
/// Any size: each axis runs its <see cref="FftPlan"/> (radix-2 for powers of two, Stockham mixed radix for smooth
/// lengths such as 320 and 368, Bluestein for lengths with a large prime factor). Rows are gathered in bands of up to
/// 64, transposed so that element j of every row of the band is one contiguous run, and columns are taken in bands of
/// up to 64 adjacent columns as they lie: either way every butterfly is one SIMD operation across the band. Output
/// may alias the input (same layout).
/// </summary>
internal static class Fft2d
{
    private const int ParallelThreshold = 1 << 14;
    private const int Band = 64;

    /// <summary>Transforms the planes described by <paramref name="layout"/>; <paramref name="inIm"/> is ignored for real input.</summary>
    public static void Transform(ReadOnlySpan<float> inRe, ReadOnlySpan<float> inIm, Span<float> outRe, Span<float> outIm, Fft2dLayout layout, bool inverse)
    {
        int h = layout.Height, w = layout.Width, planes = layout.Planes;
        if (h < 1 || w < 1 || planes < 1) throw new ArgumentException($"fft2d: bad layout {planes} planes of {h}×{w}");
        CheckExtent("input real part", inRe.Length, layout.InRe, layout.InBatchStride, layout);
        if (layout.RealInput == 0) CheckExtent("input imaginary part", inIm.Length, layout.InIm, layout.InBatchStride, layout);
        CheckExtent("output real part", outRe.Length, layout.OutRe, layout.OutBatchStride, layout);
        CheckExtent("output imaginary part", outIm.Length, layout.OutIm, layout.OutBatchStride, layout);
        var rowPlan = FftPlan.For(w);
        var colPlan = FftPlan.For(h);
        float scale = (float)(1.0 / Math.Sqrt((double)h * w));
        long work = (long)planes * h * w;
        unsafe
        {
            fixed (float* pir = inRe, pii = inIm, por = outRe, poi = outIm)
            {
                nint ir = (nint)pir, ii = (nint)pii, or = (nint)por, oi = (nint)poi;
                // Rows: each work item takes one plane's band of up to Band rows.
                int rowBands = (h + Band - 1) / Band, rowItems = planes * rowBands;
                void Rows(int item)
                {
                    int p = item / rowBands, r0 = item % rowBands * Band, rows = Math.Min(Band, h - r0);
                    float* src = (float*)ir + layout.PlaneStart(layout.InRe, layout.InBatchStride, p) + (long)r0 * w;
                    float* srcIm = layout.RealInput != 0 ? null : (float*)ii + layout.PlaneStart(layout.InIm, layout.InBatchStride, p) + (long)r0 * w;
                    float* dst = (float*)or + layout.PlaneStart(layout.OutRe, layout.OutBatchStride, p) + (long)r0 * w;
                    float* dstIm = (float*)oi + layout.PlaneStart(layout.OutIm, layout.OutBatchStride, p) + (long)r0 * w;
                    TransformRows(src, srcIm, dst, dstIm, w, rows, rowPlan, inverse);
                }
                if (work >= ParallelThreshold && rowItems > 1) Parallel.For(0, rowItems, Rows);
                else for (int k = 0; k < rowItems; k++) Rows(k);

                // Columns: each work item takes one plane's band of up to Band columns.
                int bands = (w + Band - 1) / Band, items = planes * bands;
                void Columns(int item)
                {
                    int p = item / bands, c0 = item % bands * Band, cw = Math.Min(Band, w - c0);
                    float* re = (float*)or + layout.PlaneStart(layout.OutRe, layout.OutBatchStride, p) + c0;
                    float* im = (float*)oi + layout.PlaneStart(layout.OutIm, layout.OutBatchStride, p) + c0;
                    TransformColumns(re, im, h, w, cw, colPlan, inverse, scale);
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

    /// <summary>
    /// Unscaled transforms of <paramref name="rows"/> consecutive rows of length n: gathered transposed into a
    /// [n][rows] buffer, transformed across the band, scattered back. src may be dst.
    /// </summary>
    private static unsafe void TransformRows(float* src, float* srcIm, float* dst, float* dstIm, int n, int rows, FftPlan plan, bool inverse)
    {
        int size = n * rows;
        float[] bufRe = ArrayPool<float>.Shared.Rent(size), bufIm = ArrayPool<float>.Shared.Rent(size);
        try
        {
            fixed (float* br = bufRe, bi = bufIm)
            {
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < n; j++)
                    {
                        br[j * rows + r] = src[(long)r * n + j];
                        bi[j * rows + r] = srcIm == null ? 0f : srcIm[(long)r * n + j];
                    }
                FftLanes.Transform(br, bi, rows, plan, inverse);
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < n; j++)
                    {
                        dst[(long)r * n + j] = br[j * rows + r];
                        dstIm[(long)r * n + j] = bi[j * rows + r];
                    }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(bufRe);
            ArrayPool<float>.Shared.Return(bufIm);
        }
    }

    /// <summary>
    /// Transforms <paramref name="cols"/> adjacent columns of length n (row stride <paramref name="stride"/>) in place
    /// and scales by <paramref name="scale"/>: the whole band of each row is one SIMD operand of the butterflies.
    /// </summary>
    private static unsafe void TransformColumns(float* re, float* im, int n, int stride, int cols, FftPlan plan, bool inverse, float scale)
    {
        int size = n * cols;
        float[] bufRe = ArrayPool<float>.Shared.Rent(size), bufIm = ArrayPool<float>.Shared.Rent(size);
        try
        {
            fixed (float* br = bufRe, bi = bufIm)
            {
                for (int i = 0; i < n; i++)
                {
                    new ReadOnlySpan<float>(re + (long)i * stride, cols).CopyTo(new Span<float>(br + i * cols, cols));
                    new ReadOnlySpan<float>(im + (long)i * stride, cols).CopyTo(new Span<float>(bi + i * cols, cols));
                }
                FftLanes.Transform(br, bi, cols, plan, inverse);
                for (int i = 0; i < n; i++)
                {
                    float* dr = re + (long)i * stride, di = im + (long)i * stride, sr = br + i * cols, si = bi + i * cols;
                    for (int c = 0; c < cols; c++) { dr[c] = sr[c] * scale; di[c] = si[c] * scale; }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(bufRe);
            ArrayPool<float>.Shared.Return(bufIm);
        }
    }
}
