using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private GroupNormKernels? _groupNorm;

    private protected override void GroupNormCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation) =>
        (_groupNorm ??= new GroupNormKernels(Accelerator)).Run(Stream, F(x), F(gamma), F(beta), F(y), x.Shape[1], SpatialOf(x), groups, eps, activation);
}
