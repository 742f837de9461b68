using DiffusionKernels.Kernels.Gpu;
using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    // Launchers compile their kernels on first use and hold nothing else. The backend owns the device buffer of
    // per-sample linear-combination coefficients (grown on demand, freed in Dispose).
    private ResamplingKernels? _resampling;
    private ElementwiseKernels? _elementwise;
    private TimestepEmbeddingKernel? _timestepEmbedding;
    private EmbeddingLookupKernel? _embeddingLookup;

    private ResamplingKernels Resampling => _resampling ??= new ResamplingKernels(Accelerator);
    private ElementwiseKernels Elementwise => _elementwise ??= new ElementwiseKernels(Accelerator);

    protected override void UpsampleNearest2xCore(Tensor x, Tensor y) =>
        Resampling.UpsampleNearest2x(Stream, F(x), F(y), x.Shape[0] * x.Shape[1], x.Shape[2], x.Shape[3]);

    protected override void AvgPool2x2Core(Tensor x, Tensor y) =>
        Resampling.AvgPool2x2(Stream, F(x), F(y), x.Shape[0] * x.Shape[1], x.Shape[2], x.Shape[3]);

    protected override void ConcatChannelsCore(Tensor a, Tensor b, Tensor y)
    {
        int batch = a.Shape[0];
        Elementwise.ConcatChannels(Stream, F(a), F(b), F(y), batch, checked((int)(a.Length / batch)), checked((int)(b.Length / batch)));
    }

    protected override void AxpbyCore(float alpha, Tensor a, float beta, Tensor? b, Tensor y)
    {
        if (b is null) Elementwise.Scale(Stream, alpha, F(a), F(y));
        else Elementwise.Axpby(Stream, alpha, F(a), beta, F(b), F(y));
    }

    protected override void ClampCore(Tensor x, float lo, float hi, Tensor y) => Elementwise.Clamp(Stream, F(x), lo, hi, F(y));

    protected override void LinearCombinationCore(Tensor y, ReadOnlySpan<Tensor> xs, ReadOnlySpan<float> coefficients, bool perSample)
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
            Stream.Synchronize();
        }
        Elementwise.LinearCombinationPerSample(Stream, F(y), terms, device, y.Shape[0]);
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
                Stream.Synchronize(); // queued launches may still read the old buffer
                _coefficients.Dispose();
            }
            _coefficients = Accelerator.Allocate1D<float>(Math.Max(length, 64));
        }
        return _coefficients.View.SubView(0, length);
    }

    protected override void TimestepEmbeddingCore(Tensor timesteps, Tensor y, bool flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) =>
        (_timestepEmbedding ??= new TimestepEmbeddingKernel(Accelerator)).Run(Stream, F(timesteps), F(y), y.Shape[1], flipSinToCos, downscaleFreqShift, scale, maxPeriod);

    protected override void EmbeddingLookupCore(Tensor table, Tensor labels, Tensor y) =>
        (_embeddingLookup ??= new EmbeddingLookupKernel(Accelerator)).Run(Stream, F(table), L(labels), F(y), table.Shape[0], table.Shape[1]);
}
