using DiffusionKernels.Kernels.Gpu;
using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private ElementwiseKernels? _elementwise;
    private ElementwiseKernels Elementwise => _elementwise ??= new ElementwiseKernels(Accelerator);

    private protected override void ConcatChannelsCore(Tensor a, Tensor b, Tensor y)
    {
        int batch = a.Shape[0];
        Elementwise.ConcatChannels(Stream, F(a), F(b), F(y), batch, checked((int)(a.Length / batch)), checked((int)(b.Length / batch)));
    }

    private protected override void AxpbyCore(float alpha, Tensor a, float beta, Tensor? b, Tensor y)
    {
        if (b is null) Elementwise.Scale(Stream, alpha, F(a), F(y));
        else Elementwise.Axpby(Stream, alpha, F(a), beta, F(b), F(y));
    }

    private protected override void ClampCore(Tensor x, float lo, float hi, Tensor y) => Elementwise.Clamp(Stream, F(x), lo, hi, F(y));

    private protected override void LinearCombinationCore(Tensor y, ReadOnlySpan<Tensor> xs, ReadOnlySpan<float> coefficients, bool perSample)
    {
        var terms = new TermViews();
        foreach (var x in xs) terms.Add(F(x));
        if (!perSample)
        {
            Elementwise.LinearCombination(Stream, F(y), terms, coefficients);
            return;
        }
        var device = CoefficientBuffer(coefficients.Length);
        if (!_staging.TryUpload(Stream, coefficients, device))
        {
            device.CopyFromCPU(Stream, coefficients);
            WaitForDevice();
        }
        Elementwise.LinearCombinationPerSample(Stream, F(y), terms, device, y.Shape[0]);
    }

    private protected override void LinearCombinationOnDeviceCore(Tensor y, ReadOnlySpan<Tensor> xs, Tensor coefficients)
    {
        var terms = new TermViews();
        foreach (var x in xs) terms.Add(F(x));
        Elementwise.LinearCombinationPerSample(Stream, F(y), terms, F(coefficients), y.Shape[0]);
    }

    private MemoryBuffer1D<float, Stride1D.Dense>? _coefficients;

    /// <summary>
    /// The first <paramref name="length"/> floats of the coefficient buffer, growing it (rarely) when short. Reuse is safe
    /// without waiting: every upload into it and every launch reading it are ordered on the one stream.
    /// </summary>
    private ArrayView<float> CoefficientBuffer(int length)
    {
        if (_coefficients is null || _coefficients.Length < length)
        {
            if (_coefficients is not null)
            {
                WaitForDevice(); // queued launches may still read the old buffer
                _coefficients.Dispose();
            }
            _coefficients = Accelerator.Allocate1D<float>(Math.Max(length, 64));
            _scratchGeneration++;
        }
        return _coefficients.View.SubView(0, length);
    }
}
