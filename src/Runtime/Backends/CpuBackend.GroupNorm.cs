using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void GroupNormCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation) =>
        Kernels.Cpu.GroupNorm.Forward(F(x), F(gamma), F(beta), F(y), x.Shape[0], x.Shape[1], SpatialOf(x), groups, eps, activation);
}
