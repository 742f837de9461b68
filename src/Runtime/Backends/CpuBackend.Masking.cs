using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void MultiplyMaskCore(Tensor x, Tensor mask, Tensor y, bool maskPerSample) =>
        Masking.MultiplyMask(F(x), F(mask), F(y), x.Shape[0], x.Shape[1], x.Shape[2] * x.Shape[3], maskPerSample);

    private protected override void CopyChannelsCore(Tensor x, int xFirst, Tensor y, int yFirst, int count) =>
        Masking.CopyChannels(F(x), F(y), x.Shape[0], x.Shape[2] * x.Shape[3], x.Shape[1], xFirst, y.Shape[1], yFirst, count);
}
