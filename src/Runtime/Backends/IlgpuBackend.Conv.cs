namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    protected override void Conv2dCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, float outputScale) =>
        throw new NotImplementedException("IlgpuBackend: Conv2dCore is not implemented yet");
}
