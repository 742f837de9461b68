namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void UpFirDn2dCore(Tensor x, Tensor kernel, Tensor? bias, Tensor y, int up, int down, int padBefore) =>
        DiffusionKernels.Kernels.Cpu.UpFirDn2d.Run(F(x), F(kernel), F(y), x.Shape[0] * x.Shape[1], x.Shape[2], x.Shape[3], kernel.Shape[0], kernel.Shape[1],
            y.Shape[2], y.Shape[3], up, down, padBefore, bias is null ? default : F(bias), x.Shape[1]);
}
