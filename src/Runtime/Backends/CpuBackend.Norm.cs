namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    protected override void GroupNormCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation) =>
        throw new NotImplementedException("CpuBackend: GroupNormCore is not implemented yet");

    protected override void ActivateCore(Tensor x, Tensor y, Activation activation) =>
        throw new NotImplementedException("CpuBackend: ActivateCore is not implemented yet");

    protected override void ScaleShiftCore(Tensor x, Tensor scaleShift, Tensor y, Activation activation) =>
        throw new NotImplementedException("CpuBackend: ScaleShiftCore is not implemented yet");

    protected override void AddChannelBiasCore(Tensor x, Tensor bias, Tensor y) =>
        throw new NotImplementedException("CpuBackend: AddChannelBiasCore is not implemented yet");

    protected override void ReduceCore(Tensor x, Tensor result, Reduction kind) =>
        throw new NotImplementedException("CpuBackend: ReduceCore is not implemented yet");
}
