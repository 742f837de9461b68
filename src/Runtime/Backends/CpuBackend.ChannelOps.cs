using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void ScaleShiftCore(Tensor x, Tensor scaleShift, Tensor y, Activation activation) =>
        ChannelOps.ScaleShift(F(x), F(scaleShift), F(y), x.Shape[0], x.Shape[1], SpatialOf(x), activation);

    private protected override void AddChannelBiasCore(Tensor x, Tensor bias, int biasOffset, Tensor y) =>
        ChannelOps.AddChannelBias(F(x), F(bias), F(y), x.Shape[0], x.Shape[1], SpatialOf(x), biasOffset, bias.Shape[1]);
}
