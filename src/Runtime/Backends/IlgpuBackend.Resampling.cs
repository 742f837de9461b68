using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    // Launchers compile their kernels on first use and hold nothing else. The backend owns the device buffer of
    // per-sample linear-combination coefficients (grown on demand, freed in Dispose).
    private ResamplingKernels? _resampling;
    private ResamplingKernels Resampling => _resampling ??= new ResamplingKernels(Accelerator);

    private protected override void UpsampleNearest2xCore(Tensor x, Tensor y) =>
        Resampling.UpsampleNearest2x(Stream, F(x), F(y), x.Shape[0] * x.Shape[1], x.Shape[2], x.Shape[3]);

    private protected override void AvgPool2x2Core(Tensor x, Tensor y) =>
        Resampling.AvgPool2x2(Stream, F(x), F(y), x.Shape[0] * x.Shape[1], x.Shape[2], x.Shape[3]);
}
