using System.Buffers;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// upfirdn2d over planes of [height, width]: zero-insertion upsampling, zero padding, convolution with a small
/// 2-D FIR kernel and subsampling, as diffusers' <c>upfirdn2d_native</c> (FIR resampling of score-SDE models).
/// Which input samples and kernel taps meet at each output row (and column) depends only on the geometry, so
/// both are listed once per call for the edges; interior columns run as strided multiply-adds per tap. Rows split
/// over the cores.
/// </summary>
internal static class UpFirDn2d
{
    /// <summary>
    /// y[p, i, j] = Σ_{u,v} kernel[kh−1−u, kw−1−v] · z[p, i·down + u − padBefore, j·down + v − padBefore], where
    /// z[p, a, b] = x[p, a/up, b/up] when both a and b are multiples of <paramref name="up"/> inside the upsampled
    /// plane, else 0; plus bias[p % channels] when <paramref name="bias"/> is not empty.
    /// x [planes, height, width], kernel [kh, kw], y [planes, outHeight, outWidth], bias [channels] or empty.
    /// </summary>
    public static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> kernel, Span<float> y, int planes, int height, int width,
        int kh, int kw, int outHeight, int outWidth, int up, int down, int padBefore, ReadOnlySpan<float> bias = default, int channels = 1)
    {
        if (y.Length == 0) return;
        int rowSlots = (kh + up - 1) / up, colSlots = (kw + up - 1) / up;
        var pool = ArrayPool<int>.Shared;
        int[] rowTaps = pool.Rent(2 * outHeight * rowSlots + outHeight), colTaps = pool.Rent(2 * outWidth * colSlots + outWidth);
        try
        {
            ListTaps(rowTaps, outHeight, height, kh, up, down, padBefore, rowSlots);
            ListTaps(colTaps, outWidth, width, kw, up, down, padBefore, colSlots);
            unsafe
            {
                fixed (float* px = x, pk = kernel, py = y, pb = bias)
                fixed (int* pr = rowTaps, pc = colTaps)
                {
                    nint xp = (nint)px, kp = (nint)pk, yp = (nint)py, rp = (nint)pr, cp = (nint)pc, bp = (nint)pb;
                    bool hasBias = !bias.IsEmpty;
                    var geometry = new Geometry(width, kw, outWidth, up, down, padBefore);
                    long rows = (long)planes * outHeight;
                    long work = y.Length * (long)rowSlots * colSlots;
                    ForRows(rows, work, (first, end) =>
                    {
                        for (long r = first; r < end; r++)
                        {
                            long plane = r / outHeight;
                            int i = (int)(r - plane * outHeight);
                            float offset = hasBias ? ((float*)bp)[plane % channels] : 0f;
                            OutputRow((float*)xp + plane * height * width, (float*)kp, (float*)yp + r * outWidth,
                                (int*)rp, (int*)cp, i, width, kw, outHeight, outWidth, rowSlots, colSlots, offset, geometry);
                        }
                    });
                }
            }
        }
        finally
        {
            pool.Return(rowTaps);
            pool.Return(colTaps);
        }
    }

    /// <summary>
    /// For each output index o along one axis: taps[o·slots·2 + 2t] = input index, [.. + 1] = kernel index
    /// (flipped), for the t-th non-zero term in ascending padded position; counts sit after all pairs.
    /// </summary>
    private static void ListTaps(int[] taps, int outSize, int size, int k, int up, int down, int padBefore, int slots)
    {
        int counts = 2 * outSize * slots;
        for (int o = 0; o < outSize; o++)
        {
            int n = 0;
            long start = (long)o * down - padBefore;
            for (int u = 0; u < k; u++)
            {
                long a = start + u;
                if (a < 0 || a % up != 0 || a / up >= size) continue;
                taps[2 * (o * slots + n)] = (int)(a / up);
                taps[2 * (o * slots + n) + 1] = k - 1 - u;
                n++;
            }
            taps[counts + o] = n;
        }
    }

    /// <summary>
    /// One output row. Columns whose taps all land inside the input (the interior) are accumulated tap by tap
    /// over the whole interior span: for each (kernel row, kernel column) the contributing output columns form an
    /// arithmetic progression (step up / gcd(up, down)) reading input columns at a fixed stride, so the inner
    /// loop is a plain strided multiply-add. Edge columns use the per-column tap lists.
    /// </summary>
    private static unsafe void OutputRow(float* plane, float* kernel, float* output, int* rowTaps, int* colTaps, int i,
        int width, int kw, int outHeight, int outWidth, int rowSlots, int colSlots, float offset, Geometry g)
    {
        int rowCount = rowTaps[2 * outHeight * rowSlots + i];
        int* rows = rowTaps + 2 * i * rowSlots;
        int* colCounts = colTaps + 2 * outWidth * colSlots;
        int first = Math.Min(g.InteriorStart, outWidth), end = Math.Max(first, Math.Min(g.InteriorEnd, outWidth));
        for (int j = 0; j < outWidth; j++)
        {
            if (j == first) j = end;
            if (j >= outWidth) break;
            int colCount = colCounts[j];
            int* cols = colTaps + 2 * j * colSlots;
            float sum = 0f;
            for (int a = 0; a < rowCount; a++)
            {
                float* inRow = plane + (long)rows[2 * a] * width;
                float* kRow = kernel + rows[2 * a + 1] * kw;
                for (int b = 0; b < colCount; b++) sum += kRow[cols[2 * b + 1]] * inRow[cols[2 * b]];
            }
            output[j] = sum + offset;
        }
        if (end <= first) return;
        for (int j = first; j < end; j++) output[j] = 0f;
        for (int a = 0; a < rowCount; a++)
        {
            float* inRow = plane + (long)rows[2 * a] * width;
            float* kRow = kernel + rows[2 * a + 1] * kw;
            for (int v = 0; v < kw; v++)
            {
                // First interior column j whose tap v hits a real sample: (j·down + v − pad) divisible by up.
                int j = first;
                while (j < end && (j * g.Down + v - g.PadBefore) % g.Up != 0) j++;
                if (j >= end) continue;
                float k = kRow[kw - 1 - v];
                float* src = inRow + (j * g.Down + v - g.PadBefore) / g.Up;
                int step = g.Step, srcStep = g.SourceStep;
                if (step == 1 && srcStep == 1)
                    for (; j < end; j++, src++) output[j] += k * *src;
                else
                    for (; j < end; j += step, src += srcStep) output[j] += k * *src;
            }
        }
        if (offset != 0f)
            for (int j = first; j < end; j++) output[j] += offset;
    }

    /// <summary>Column geometry shared by every row of a call.</summary>
    private readonly struct Geometry
    {
        public Geometry(int width, int kw, int outWidth, int up, int down, int padBefore)
        {
            Up = up;
            Down = down;
            PadBefore = padBefore;
            int gcd = Gcd(up, down);
            Step = up / gcd;
            SourceStep = down / gcd;
            // Interior: j·down − pad ≥ 0 and j·down − pad + kw − 1 < width·up (every tap inside the upsampled plane).
            InteriorStart = padBefore <= 0 ? 0 : (padBefore + down - 1) / down;
            long last = ((long)width * up - kw + padBefore);
            InteriorEnd = last < 0 ? 0 : (int)Math.Min(outWidth, last / down + 1);
        }

        public int Up { get; }
        public int Down { get; }
        public int PadBefore { get; }
        public int Step { get; }
        public int SourceStep { get; }
        public int InteriorStart { get; }
        public int InteriorEnd { get; }

        private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
    }

    /// <summary>Runs body(firstRow, endRow) over [0, rows) in contiguous blocks, in parallel when the work is large.</summary>
    private static void ForRows(long rows, long work, Action<long, long> body)
    {
        if (work < Elementwise.ParallelThreshold || rows < 2 || Environment.ProcessorCount < 2)
        {
            body(0, rows);
            return;
        }
        int blocks = (int)Math.Min(Math.Min(rows, 4L * Environment.ProcessorCount), work / (Elementwise.ParallelThreshold / 2));
        Parallel.For(0, blocks, b => body(rows * b / blocks, rows * (b + 1) / blocks));
    }
}
