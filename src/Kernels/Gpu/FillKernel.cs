using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>Sets every element of a view to one value (ILGPU's MemSet only writes bytes).</summary>
internal sealed class FillKernel
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, float> _kernel;

    public FillKernel(Accelerator accelerator) =>
        _kernel = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, float>(Fill);

    public void Run(AcceleratorStream stream, ArrayView<float> y, float value)
    {
        if (y.Length > 0) _kernel(LaunchCounter.Count(stream), ElementwiseKernels.Threads(y.Length, "fill"), y, value);
    }

    private static void Fill(Index1D i, ArrayView<float> y, float value) => y[i] = value;
}
