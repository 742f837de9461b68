using ConvKernel = DiffusionKernels.Kernels.Cpu.Conv2d;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    protected override void Conv2dCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, float outputScale) =>
        ConvKernel.Forward(F(x), F(w), bias is null ? default : F(bias), residual is null ? default : F(residual), F(y),
            x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], w.Shape[0], w.Shape[2], w.Shape[3], y.Shape[2], y.Shape[3],
            stride, padding, outputScale);
}
