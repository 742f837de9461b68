namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void TimestepEmbeddingCore(Tensor timesteps, Tensor y, bool flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) =>
        Kernels.Cpu.TimestepEmbedding.Compute(F(timesteps), F(y), y.Shape[1], flipSinToCos, downscaleFreqShift, scale, maxPeriod);
}
