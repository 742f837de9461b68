namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    protected override void UpsampleNearest2xCore(Tensor x, Tensor y) =>
        throw new NotImplementedException("IlgpuBackend: UpsampleNearest2xCore is not implemented yet");

    protected override void AvgPool2x2Core(Tensor x, Tensor y) =>
        throw new NotImplementedException("IlgpuBackend: AvgPool2x2Core is not implemented yet");

    protected override void ConcatChannelsCore(Tensor a, Tensor b, Tensor y) =>
        throw new NotImplementedException("IlgpuBackend: ConcatChannelsCore is not implemented yet");

    protected override void AxpbyCore(float alpha, Tensor a, float beta, Tensor? b, Tensor y) =>
        throw new NotImplementedException("IlgpuBackend: AxpbyCore is not implemented yet");

    protected override void ClampCore(Tensor x, float lo, float hi, Tensor y) =>
        throw new NotImplementedException("IlgpuBackend: ClampCore is not implemented yet");

    protected override void LinearCombinationCore(Tensor y, ReadOnlySpan<Tensor> xs, ReadOnlySpan<float> coefficients, bool perSample) =>
        throw new NotImplementedException("IlgpuBackend: LinearCombinationCore is not implemented yet");

    protected override void TimestepEmbeddingCore(Tensor timesteps, Tensor y, bool flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) =>
        throw new NotImplementedException("IlgpuBackend: TimestepEmbeddingCore is not implemented yet");

    protected override void EmbeddingLookupCore(Tensor table, Tensor labels, Tensor y) =>
        throw new NotImplementedException("IlgpuBackend: EmbeddingLookupCore is not implemented yet");
}
