namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    protected override void AttentionCore(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale) =>
        throw new NotImplementedException("CpuBackend: AttentionCore is not implemented yet");

    protected override void NchwToTokensCore(Tensor x, Tensor y) =>
        throw new NotImplementedException("CpuBackend: NchwToTokensCore is not implemented yet");

    protected override void TokensToNchwCore(Tensor x, Tensor y, Tensor? residual, float outputScale) =>
        throw new NotImplementedException("CpuBackend: TokensToNchwCore is not implemented yet");

    protected override void RandomNormalCore(Tensor y, ulong seed, long firstSampleIndex, ulong offset) =>
        throw new NotImplementedException("CpuBackend: RandomNormalCore is not implemented yet");
}
