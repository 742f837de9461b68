using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private ActivationKernels? _activation;

    private protected override void ActivateCore(Tensor x, Tensor y, Activation activation)
    {
        if (activation == Activation.Identity)
        {
            if (!ReferenceEquals(x.Storage, y.Storage) || x.Offset != y.Offset) CopyCore(x, y);
            return;
        }
        (_activation ??= new ActivationKernels(Accelerator)).Run(Stream, F(x), F(y), activation);
    }
}
