using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// upfirdn2d (zero-insertion up, pad, FIR convolution, subsample) over planes of [height, width], one thread per
/// output element. A thread visits only the kernel rows and columns that land on real (non-inserted) input
/// samples: it starts at the first such tap and steps by the upsampling factor.
/// </summary>
internal sealed class UpFirDn2dKernels
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FirShape> _run;

    /// <summary>Compiles the kernel for <paramref name="accelerator"/>.</summary>
    public UpFirDn2dKernels(Accelerator accelerator) =>
        _run = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FirShape>(UpFirDn);

    /// <summary>
    /// y [planes, outHeight, outWidth] = upfirdn2d(x [planes, height, width], kernel [kh, kw]) + bias[plane % channels]
    /// (no bias when <paramref name="bias"/> is empty).
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> kernel, ArrayView<float> y, int planes,
        int height, int width, int kh, int kw, int outHeight, int outWidth, int up, int down, int padBefore,
        ArrayView<float> bias = default, int channels = 1)
    {
        bool hasBias = bias.IsValid && bias.Length > 0;
        if (y.Length == 0) return;
        // Without a bias the kernel reads nothing from its bias view; the filter view stands in for it.
        _run(LaunchCounter.Count(stream), ElementwiseKernels.Threads(y.Length, "upfirdn2d"), x, kernel, hasBias ? bias : kernel, y,
            new FirShape(height, width, kh, kw, outHeight, outWidth, up, down, padBefore, hasBias ? channels : 0));
    }

    /// <summary>Geometry of one launch; <c>BiasChannels</c> is 0 without a bias.</summary>
    public readonly struct FirShape(int height, int width, int kh, int kw, int outHeight, int outWidth, int up, int down, int padBefore, int biasChannels)
    {
        public readonly int Height = height, Width = width, KernelHeight = kh, KernelWidth = kw;
        public readonly int OutHeight = outHeight, OutWidth = outWidth, Up = up, Down = down, PadBefore = padBefore;
        public readonly int BiasChannels = biasChannels;
    }

    /// <summary>First tap u ≥ 0 with start + u a non-negative multiple of up.</summary>
    private static int FirstTap(int start, int up)
    {
        if (start >= 0) return (up - start % up) % up;
        return -start;
    }

    private static void UpFirDn(Index1D index, ArrayView<float> x, ArrayView<float> kernel, ArrayView<float> bias, ArrayView<float> y, FirShape s)
    {
        long i = index;
        long row = i / s.OutWidth;
        int oj = (int)(i - row * s.OutWidth);
        long plane = row / s.OutHeight;
        int oi = (int)(row - plane * s.OutHeight);
        int rowStart = oi * s.Down - s.PadBefore, colStart = oj * s.Down - s.PadBefore;
        int u0 = FirstTap(rowStart, s.Up), v0 = FirstTap(colStart, s.Up);
        long planeBase = plane * s.Height * s.Width;
        float sum = 0f;
        for (int u = u0; u < s.KernelHeight; u += s.Up)
        {
            int a = (rowStart + u) / s.Up;
            if (a >= s.Height) break;
            long inRow = planeBase + (long)a * s.Width;
            int kRow = (s.KernelHeight - 1 - u) * s.KernelWidth;
            for (int v = v0; v < s.KernelWidth; v += s.Up)
            {
                int b = (colStart + v) / s.Up;
                if (b >= s.Width) break;
                sum += kernel[kRow + s.KernelWidth - 1 - v] * x[inRow + b];
            }
        }
        if (s.BiasChannels > 0) sum += bias[(int)(plane % s.BiasChannels)];
        y[index] = sum;
    }
}
