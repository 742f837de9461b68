using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// The U-Net's ×2 resampling over planes of [height, width] (N·C planes of NCHW data): nearest-neighbour
/// upsampling and 2×2 average pooling. AVX2 where present, rows split over all cores when large.
/// </summary>
internal static class Resampling
{
    /// <summary>y[p, i, j] = x[p, i/2, j/2]; x [planes, height, width], y [planes, 2·height, 2·width].</summary>
    public static void UpsampleNearest2x(ReadOnlySpan<float> x, Span<float> y, int planes, int height, int width)
    {
        long rows = (long)planes * height;
        unsafe
        {
            fixed (float* px = x, py = y)
            {
                nint xp = (nint)px, yp = (nint)py;
                ForRows(rows, y.Length, (first, end) =>
                {
                    for (long r = first; r < end; r++)
                    {
                        float* src = (float*)xp + r * width;
                        float* dst = (float*)yp + 4 * r * width; // output rows 2r and 2r+1, each 2·width long
                        DuplicateRow(src, dst, dst + 2 * width, width);
                    }
                });
            }
        }
    }

    /// <summary>
    /// y[p, i, j] = ¼·(((x[2i, 2j] + x[2i, 2j+1]) + x[2i+1, 2j]) + x[2i+1, 2j+1]) (PyTorch's summation order);
    /// x [planes, height, width], y [planes, height/2, width/2]; an odd last row or column is dropped.
    /// </summary>
    public static void AvgPool2x2(ReadOnlySpan<float> x, Span<float> y, int planes, int height, int width)
    {
        int outH = height / 2, outW = width / 2;
        unsafe
        {
            fixed (float* px = x, py = y)
            {
                nint xp = (nint)px, yp = (nint)py;
                ForRows((long)planes * outH, x.Length, (first, end) =>
                {
                    for (long r = first; r < end; r++)
                    {
                        long plane = r / outH, i = r - plane * outH;
                        float* top = (float*)xp + (plane * height + 2 * i) * width;
                        PoolRow(top, top + width, (float*)yp + r * outW, outW);
                    }
                });
            }
        }
    }

    /// <summary>first[2j] = first[2j+1] = second[2j] = second[2j+1] = src[j] for j &lt; width.</summary>
    private static unsafe void DuplicateRow(float* src, float* first, float* second, int width)
    {
        int j = 0;
        if (Avx.IsSupported)
        {
            for (; j <= width - 8; j += 8)
            {
                var v = Avx.LoadVector256(src + j);
                // Per 128-bit lane: [a a b b] and [c c d d]; the lane permute puts them back in order.
                var low = Avx.UnpackLow(v, v);
                var high = Avx.UnpackHigh(v, v);
                var left = Avx.Permute2x128(low, high, 0x20);
                var right = Avx.Permute2x128(low, high, 0x31);
                Avx.Store(first + 2 * j, left);
                Avx.Store(first + 2 * j + 8, right);
                Avx.Store(second + 2 * j, left);
                Avx.Store(second + 2 * j + 8, right);
            }
        }
        for (; j < width; j++) first[2 * j] = first[2 * j + 1] = second[2 * j] = second[2 * j + 1] = src[j];
    }

    /// <summary>out[j] = ¼·(((top[2j] + top[2j+1]) + bottom[2j]) + bottom[2j+1]).</summary>
    private static unsafe void PoolRow(float* top, float* bottom, float* output, int outW)
    {
        int j = 0;
        if (Avx2.IsSupported)
        {
            var quarter = Vector256.Create(0.25f);
            for (; j <= outW - 8; j += 8)
            {
                // Even/odd shuffles leave outputs in lane order [0 1 4 5 | 2 3 6 7]; one 64-bit permute fixes it.
                var t0 = Avx.LoadVector256(top + 2 * j);
                var t1 = Avx.LoadVector256(top + 2 * j + 8);
                var b0 = Avx.LoadVector256(bottom + 2 * j);
                var b1 = Avx.LoadVector256(bottom + 2 * j + 8);
                var sum = Avx.Add(Avx.Shuffle(t0, t1, 0b10_00_10_00), Avx.Shuffle(t0, t1, 0b11_01_11_01));
                sum = Avx.Add(sum, Avx.Shuffle(b0, b1, 0b10_00_10_00));
                sum = Avx.Add(sum, Avx.Shuffle(b0, b1, 0b11_01_11_01));
                sum = Avx.Multiply(sum, quarter);
                Avx.Store(output + j, Avx2.Permute4x64(sum.AsDouble(), 0b11_01_10_00).AsSingle());
            }
        }
        for (; j < outW; j++)
            output[j] = (top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1]) * 0.25f;
    }

    /// <summary>Runs body(firstRow, endRow) over [0, rows) in contiguous blocks, in parallel when the work is large.</summary>
    private static void ForRows(long rows, long elements, Action<long, long> body)
    {
        if (elements < Elementwise.ParallelThreshold || rows < 2 || Environment.ProcessorCount < 2)
        {
            if (rows > 0) body(0, rows);
            return;
        }
        int blocks = (int)Math.Min(Math.Min(rows, 4L * Environment.ProcessorCount), elements / (Elementwise.ParallelThreshold / 2));
        Parallel.For(0, blocks, b => body(rows * b / blocks, rows * (b + 1) / blocks));
    }
}
