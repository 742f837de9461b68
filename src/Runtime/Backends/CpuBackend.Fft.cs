using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void Fft2dCore(Tensor inRe, Tensor? inIm, Tensor outRe, Tensor outIm, Fft2dLayout layout, bool inverse) =>
        Kernels.Cpu.Fft2d.Transform(F(inRe), inIm is null ? default : F(inIm), F(outRe), F(outIm), layout, inverse);
}
