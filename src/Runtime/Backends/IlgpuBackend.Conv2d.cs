using DiffusionKernels.Kernels.Gpu;
using ILGPU;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private Conv2dKernels? _conv2d;

    private protected override void Conv2dCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, float outputScale)
    {
        var geometry = ConvGeometry(x, w, y, stride, padding, bias, residual, outputScale);
        var yView = F(y);
        // Absent bias/residual: the kernels never read the view, any valid one will do.
        LaunchConv2d(F(x), F(w), bias is null ? yView : F(bias), yView, residual is null ? yView : F(residual), yView, geometry);
    }

    /// <summary>The sizes of a convolution of x [N, Cin, H, W] by w into y, with its epilogue flags.</summary>
    private static Conv2dGeometry ConvGeometry(Tensor x, Tensor w, Tensor y, int stride, int padding, Tensor? bias, Tensor? residual, float outputScale) => new()
    {
        Batch = x.Shape[0],
        InChannels = x.Shape[1],
        Height = x.Shape[2],
        Width = x.Shape[3],
        OutChannels = w.Shape[0],
        KernelHeight = w.Shape[2],
        KernelWidth = w.Shape[3],
        OutHeight = y.Shape[2],
        OutWidth = y.Shape[3],
        Stride = stride,
        Padding = padding,
        HasBias = bias is null ? 0 : 1,
        HasResidual = residual is null ? 0 : 1,
        Scale = outputScale,
    };

    /// <summary>
    /// Queues a convolution with the kernel of the precision tier: the CUDA-core implicit GEMM in fp32 (3xTF32 tensor
    /// cores under <see cref="Fp32OnThreeTf32"/>), the tensor-core one in tf32. Both read the same geometry (upsampled
    /// input, per-sample bias, residual, scale), so the fused convs of a compiled U-Net follow the tier as the plain ones
    /// do. <paramref name="skip"/> holds the input channels past
    /// InChannels − SkipChannels when the conv reads a concat (x stands in for it otherwise).
    /// </summary>
    private void LaunchConv2d(ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry, ArrayView<float>? skip = null)
    {
        if (HalfTier)
            LaunchHalfConv2d(x, skip ?? x, w, bias, sampleBias, residual, y, geometry);
        else if (_precision == Precision.Tf32 || Fp32TierOnThreeTf32)
            RunTensorCoreConv2d(x, skip ?? x, w, bias, sampleBias, residual, y, geometry);
        else
            (_conv2d ??= new Conv2dKernels(Accelerator)).Run(Stream, x, skip ?? x, w, bias, sampleBias, residual, y, geometry);
    }
}
