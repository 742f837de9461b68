using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void UpsampleNearest2xCore(Tensor x, Tensor y) =>
        Resampling.UpsampleNearest2x(F(x), F(y), x.Shape[0] * x.Shape[1], x.Shape[2], x.Shape[3]);

    private protected override void AvgPool2x2Core(Tensor x, Tensor y) =>
        Resampling.AvgPool2x2(F(x), F(y), x.Shape[0] * x.Shape[1], x.Shape[2], x.Shape[3]);
}
