using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>y = act(x) element-wise, one thread per element (<see cref="ActivationMath"/>; twin: <see cref="Cpu.Activations"/>).</summary>
internal sealed class ActivationKernels
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, Activation> _activate;

    public ActivationKernels(Accelerator accelerator) =>
        _activate = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, Activation>(Activate);

    /// <summary>Queues y = act(x) over x and y of equal length; y may be x.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, Activation activation)
    {
        if (x.Length > 0) _activate(LaunchCounter.Count(stream), ElementwiseKernels.Threads(x.Length, "activation"), x, y, activation);
    }

    private static void Activate(Index1D i, ArrayView<float> x, ArrayView<float> y, Activation activation) =>
        y[i] = ActivationMath.Apply(x[i], activation);
}
