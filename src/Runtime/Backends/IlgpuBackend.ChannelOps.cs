using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private ChannelOpsKernels? _channelOps;

    private protected override void ScaleShiftCore(Tensor x, Tensor scaleShift, Tensor y, Activation activation) =>
        (_channelOps ??= new ChannelOpsKernels(Accelerator)).RunScaleShift(Stream, F(x), F(scaleShift), F(y), x.Shape[1], SpatialOf(x), activation);

    private protected override void AddChannelBiasCore(Tensor x, Tensor bias, int biasOffset, Tensor y) =>
        (_channelOps ??= new ChannelOpsKernels(Accelerator)).RunAddChannelBias(Stream, F(x), F(bias).SubView(biasOffset), F(y), x.Shape[1], SpatialOf(x), bias.Shape[1]);
}
