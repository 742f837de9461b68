using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private MaskingKernels? _masking;

    private protected override void MultiplyMaskCore(Tensor x, Tensor mask, Tensor y, bool maskPerSample) =>
        (_masking ??= new MaskingKernels(Accelerator)).MultiplyMask(Stream, F(x), F(mask), F(y), x.Shape[1], x.Shape[2] * x.Shape[3], maskPerSample);

    private protected override void CopyChannelsCore(Tensor x, int xFirst, Tensor y, int yFirst, int count) =>
        (_masking ??= new MaskingKernels(Accelerator)).CopyChannels(Stream, F(x), F(y), x.Shape[0], x.Shape[2] * x.Shape[3], x.Shape[1], xFirst, y.Shape[1], yFirst, count);
}
