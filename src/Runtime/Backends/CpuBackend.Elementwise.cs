using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    protected override void UpsampleNearest2xCore(Tensor x, Tensor y) =>
        Resampling.UpsampleNearest2x(F(x), F(y), x.Shape[0] * x.Shape[1], x.Shape[2], x.Shape[3]);

    protected override void AvgPool2x2Core(Tensor x, Tensor y) =>
        Resampling.AvgPool2x2(F(x), F(y), x.Shape[0] * x.Shape[1], x.Shape[2], x.Shape[3]);

    protected override void ConcatChannelsCore(Tensor a, Tensor b, Tensor y)
    {
        int batch = a.Shape[0];
        Elementwise.ConcatChannels(F(a), F(b), F(y), batch, checked((int)(a.Length / batch)), checked((int)(b.Length / batch)));
    }

    protected override void AxpbyCore(float alpha, Tensor a, float beta, Tensor? b, Tensor y)
    {
        if (b is null) Elementwise.Scale(alpha, F(a), F(y));
        else Elementwise.Axpby(alpha, F(a), beta, F(b), F(y));
    }

    protected override void ClampCore(Tensor x, float lo, float hi, Tensor y) => Elementwise.Clamp(F(x), lo, hi, F(y));

    protected override void LinearCombinationCore(Tensor y, ReadOnlySpan<Tensor> xs, ReadOnlySpan<float> coefficients, bool perSample)
    {
        var terms = new LinearTerms();
        foreach (var x in xs) terms.Add(F(x));
        Elementwise.LinearCombination(F(y), terms, coefficients, y.Shape[0], perSample);
    }

    protected override void TimestepEmbeddingCore(Tensor timesteps, Tensor y, bool flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) =>
        Kernels.Cpu.TimestepEmbedding.Compute(F(timesteps), F(y), y.Shape[1], flipSinToCos, downscaleFreqShift, scale, maxPeriod);

    protected override void EmbeddingLookupCore(Tensor table, Tensor labels, Tensor y) =>
        Kernels.Cpu.EmbeddingLookup.Lookup(F(table), table.Shape[0], table.Shape[1], L(labels), F(y));
}
