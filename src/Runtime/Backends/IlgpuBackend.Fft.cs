using DiffusionKernels.Kernels.Cpu;
using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private Fft2dKernels? _fft2d;

    private protected override void Fft2dCore(Tensor inRe, Tensor? inIm, Tensor outRe, Tensor outIm, Fft2dLayout layout, bool inverse) =>
        (_fft2d ??= new Fft2dKernels(Accelerator)).Run(Stream, F(inRe), inIm is null ? F(inRe) : F(inIm), F(outRe), F(outIm), layout, inverse);
}
