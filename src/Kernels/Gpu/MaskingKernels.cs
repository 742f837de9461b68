using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Element-wise measurement-operator helpers (the same ops as <see cref="Cpu.Masking"/>), one thread per output
/// element: a spatial mask multiply broadcast over channels (and the batch), and a channel-run copy.
/// </summary>
internal sealed class MaskingKernels
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> _multiply;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int, int, int> _copy;

    public MaskingKernels(Accelerator accelerator)
    {
        _multiply = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(Multiply);
        _copy = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>(Copy);
    }

    /// <summary>y[b, c, s] = x[b, c, s]·mask[b or 0, s]; y may be x.</summary>
    public void MultiplyMask(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, int channels, int spatial, bool maskPerSample)
    {
        if (x.Length == 0) return;
        _multiply(LaunchCounter.Count(stream), ElementwiseKernels.Threads(x.Length, "multiply mask"), x, mask, y, channels, spatial, maskPerSample ? 1 : 0);
    }

    /// <summary>y[b, yFirst + k, s] = x[b, xFirst + k, s] for k &lt; count.</summary>
    public void CopyChannels(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int batch, int spatial, int xChannels, int xFirst, int yChannels, int yFirst, int count)
    {
        int run = count * spatial;
        if (run == 0 || batch == 0) return;
        _copy(LaunchCounter.Count(stream), ElementwiseKernels.Threads((long)batch * run, "copy channels"), x.SubView((long)xFirst * spatial), y.SubView((long)yFirst * spatial), run, xChannels * spatial, yChannels * spatial);
    }

    private static void Multiply(Index1D i, ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, int channels, int spatial, int perSample)
    {
        int s = i % spatial;
        int m = perSample != 0 ? i / (channels * spatial) * spatial + s : s;
        y[i] = x[i] * mask[m];
    }

    private static void Copy(Index1D i, ArrayView<float> x, ArrayView<float> y, int run, int xSample, int ySample)
    {
        int b = i / run, k = i - b * run;
        y[(long)b * ySample + k] = x[(long)b * xSample + k];
    }
}
