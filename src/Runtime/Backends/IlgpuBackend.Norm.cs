namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    protected override void GroupNormCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation) =>
        throw new NotImplementedException("IlgpuBackend: GroupNormCore is not implemented yet");

    protected override void ActivateCore(Tensor x, Tensor y, Activation activation) =>
        throw new NotImplementedException("IlgpuBackend: ActivateCore is not implemented yet");

    protected override void ScaleShiftCore(Tensor x, Tensor scaleShift, Tensor y, Activation activation) =>
        throw new NotImplementedException("IlgpuBackend: ScaleShiftCore is not implemented yet");

    protected override void AddChannelBiasCore(Tensor x, Tensor bias, Tensor y) =>
        throw new NotImplementedException("IlgpuBackend: AddChannelBiasCore is not implemented yet");

    protected override void ReduceCore(Tensor x, Tensor result, Reduction kind) =>
        throw new NotImplementedException("IlgpuBackend: ReduceCore is not implemented yet");
}
