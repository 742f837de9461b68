using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Nearest ×2 upsampling and 2×2 average pooling over planes of [height, width], one thread per output
/// element (consecutive threads write consecutive floats; the reads they share hit the same cache lines).
/// </summary>
internal sealed class ResamplingKernels
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int, int> _upsample;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, PoolShape> _avgPool;

    /// <summary>Compiles both kernels for <paramref name="accelerator"/>.</summary>
    public ResamplingKernels(Accelerator accelerator)
    {
        _upsample = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(Upsample);
        _avgPool = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, PoolShape>(AvgPool);
    }

    /// <summary>y [planes, 2h, 2w] = nearest ×2 of x [planes, h, w].</summary>
    public void UpsampleNearest2x(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int planes, int height, int width)
    {
        if (y.Length == 0) return;
        _upsample(LaunchCounter.Count(stream), ElementwiseKernels.Threads(y.Length, "upsample nearest 2x"), x, y, width, 2 * width);
    }

    /// <summary>y [planes, h/2, w/2] = 2×2 mean of x [planes, h, w] (odd edges dropped).</summary>
    public void AvgPool2x2(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int planes, int height, int width)
    {
        int outH = height / 2, outW = width / 2;
        if (y.Length == 0) return;
        ElementwiseKernels.Threads(x.Length, "avg pool 2x2");
        _avgPool(LaunchCounter.Count(stream), ElementwiseKernels.Threads(y.Length, "avg pool 2x2"), x, y, new PoolShape(height, width, outH, outW));
    }

    /// <summary>Input and output plane sizes of the pooling kernel.</summary>
    public readonly struct PoolShape(int height, int width, int outHeight, int outWidth)
    {
        public readonly int Height = height, Width = width, OutHeight = outHeight, OutWidth = outWidth;
    }

    private static void Upsample(Index1D i, ArrayView<float> x, ArrayView<float> y, int width, int outWidth)
    {
        // Output row 2·(p·h + r) + {0, 1} reads input row p·h + r: the input row is just outRow / 2.
        int outRow = i / outWidth;
        int column = i - outRow * outWidth;
        y[i] = x[(outRow >> 1) * width + (column >> 1)];
    }

    private static void AvgPool(Index1D i, ArrayView<float> x, ArrayView<float> y, PoolShape s)
    {
        int outRow = i / s.OutWidth;
        int column = i - outRow * s.OutWidth;
        int plane = outRow / s.OutHeight;
        int row = outRow - plane * s.OutHeight;
        int top = (plane * s.Height + 2 * row) * s.Width + 2 * column;
        // PyTorch's order: ((x00 + x01) + x10) + x11, then the division by 4 (exact as ·¼).
        y[i] = (x[top] + x[top + 1] + x[top + s.Width] + x[top + s.Width + 1]) * 0.25f;
    }
}
