using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void ConcatChannelsCore(Tensor a, Tensor b, Tensor y)
    {
        int batch = a.Shape[0];
        Elementwise.ConcatChannels(F(a), F(b), F(y), batch, checked((int)(a.Length / batch)), checked((int)(b.Length / batch)));
    }

    private protected override void AxpbyCore(float alpha, Tensor a, float beta, Tensor? b, Tensor y)
    {
        if (b is null) Elementwise.Scale(alpha, F(a), F(y));
        else Elementwise.Axpby(alpha, F(a), beta, F(b), F(y));
    }

    private protected override void ClampCore(Tensor x, float lo, float hi, Tensor y) => Elementwise.Clamp(F(x), lo, hi, F(y));

    private protected override void LinearCombinationCore(Tensor y, ReadOnlySpan<Tensor> xs, ReadOnlySpan<float> coefficients, bool perSample)
    {
        var terms = new LinearTerms();
        foreach (var x in xs) terms.Add(F(x));
        Elementwise.LinearCombination(F(y), terms, coefficients, y.Shape[0], perSample);
    }

    private protected override void LinearCombinationOnDeviceCore(Tensor y, ReadOnlySpan<Tensor> xs, Tensor coefficients) =>
        LinearCombinationCore(y, xs, F(coefficients), perSample: true);
}
