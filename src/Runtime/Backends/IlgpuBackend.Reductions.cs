using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private ReductionKernels? _reduction;

    private protected override void FlagNonFiniteCore(Tensor x, Tensor firstStep, long step)
    {
        DeviceWrites(firstStep);
        (_reduction ??= new ReductionKernels(Accelerator)).FlagNonFinite(Stream, F(x), L(firstStep), step);
    }

    private protected override void ReduceCore(Tensor x, Tensor result, Reduction kind) =>
        (_reduction ??= new ReductionKernels(Accelerator)).Run(Stream, F(x), F(result), (int)kind);
}
