using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private TimestepEmbeddingKernel? _timestepEmbedding;

    private protected override void TimestepEmbeddingCore(Tensor timesteps, Tensor y, bool flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) =>
        (_timestepEmbedding ??= new TimestepEmbeddingKernel(Accelerator)).Run(Stream, F(timesteps), F(y), y.Shape[1], flipSinToCos, downscaleFreqShift, scale, maxPeriod);
}
