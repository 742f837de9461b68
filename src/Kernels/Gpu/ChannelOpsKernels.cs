using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>FiLM scale/shift (+ activation) and per-(sample, channel) bias over NC(spatial) data, one thread per element.</summary>
internal sealed class ChannelOpsKernels
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, Activation> _scaleShift;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> _addBias;

    public ChannelOpsKernels(Accelerator accelerator)
    {
        _scaleShift = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, Activation>(ScaleShift);
        _addBias = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(AddChannelBias);
    }

    /// <summary>y = act(x·(1 + ss[n, c]) + ss[n, C + c]); x, y [N, C, spatial], ss [N, 2C]; y may be x.</summary>
    public void RunScaleShift(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> scaleShift, ArrayView<float> y, int channels, int spatial, Activation activation)
    {
        if (x.Length > 0) _scaleShift(LaunchCounter.Count(stream), ElementwiseKernels.Threads(x.Length, "scale shift"), x, scaleShift, y, channels, spatial, activation);
    }

    /// <summary>
    /// y = x + bias[n·biasStride + c]; x, y [N, C, spatial]; bias rows of biasStride floats (a column slice of a wider
    /// matrix when biasStride &gt; C, the view starting at the slice); y may be x.
    /// </summary>
    public void RunAddChannelBias(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> bias, ArrayView<float> y, int channels, int spatial, int biasStride)
    {
        if (x.Length > 0) _addBias(LaunchCounter.Count(stream), ElementwiseKernels.Threads(x.Length, "add channel bias"), x, bias, y, channels, spatial, biasStride);
    }

    private static void ScaleShift(Index1D i, ArrayView<float> x, ArrayView<float> scaleShift, ArrayView<float> y, int channels, int spatial, Activation activation)
    {
        int row = i / spatial;
        int n = row / channels, c = row - n * channels;
        int at = 2 * n * channels + c;
        y[i] = ActivationMath.Apply(x[i] * (1f + scaleShift[at]) + scaleShift[at + channels], activation);
    }

    private static void AddChannelBias(Index1D i, ArrayView<float> x, ArrayView<float> bias, ArrayView<float> y, int channels, int spatial, int biasStride)
    {
        int row = i / spatial;
        int n = row / channels, c = row - n * channels;
        y[i] = x[i] + bias[(long)n * biasStride + c];
    }
}
