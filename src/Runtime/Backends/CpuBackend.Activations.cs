using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void ActivateCore(Tensor x, Tensor y, Activation activation)
    {
        if (activation == Activation.Identity)
        {
            if (!SameElements(x, y)) F(x).CopyTo(F(y));
            return;
        }
        Activations.Forward(F(x), F(y), activation);
    }

    private static bool SameElements(Tensor a, Tensor b) => ReferenceEquals(a.Storage, b.Storage) && a.Offset == b.Offset;
}
