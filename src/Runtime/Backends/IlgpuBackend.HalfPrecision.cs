using DiffusionKernels.Kernels.Gpu;
using ILGPU;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private HalfTensorCoreGemmKernels? _halfGemm;
    private HalfTensorCoreConv2dKernels? _halfConv2d;

    /// <summary>True in the fp16 and bf16 tiers, whose GEMMs and convolutions run on 16-bit tensor cores.</summary>
    private bool HalfTier => _precision is Precision.Fp16 or Precision.Bf16;

    private HalfType HalfFormat => _precision == Precision.Bf16 ? HalfType.Bf16 : HalfType.Fp16;

    /// <summary>The GEMM of the fp16/bf16 tiers (<see cref="HalfTensorCoreGemmKernels"/>).</summary>
    private void RunHalfGemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p, int batch) =>
        (_halfGemm ??= new HalfTensorCoreGemmKernels(Accelerator)).Run(Stream, HalfFormat, a, b, c, bias, residual, p, batch);

    /// <summary>The convolution of the fp16/bf16 tiers (<see cref="HalfTensorCoreConv2dKernels"/>), with the fused geometry of the fp32 one.</summary>
    private void LaunchHalfConv2d(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry) =>
        (_halfConv2d ??= new HalfTensorCoreConv2dKernels(Accelerator)).Run(Stream, HalfFormat, x, skip, w, bias, sampleBias, residual, y, geometry);
}
