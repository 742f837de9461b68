using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private RandomNormalKernel? _randomNormal;

    private protected override void RandomNormalCore(Tensor y, ulong seed, long firstSampleIndex, ulong offset) =>
        (_randomNormal ??= new RandomNormalKernel(Accelerator)).Run(Stream, F(y), y.Shape[0], seed, (ulong)firstSampleIndex, offset);
}
