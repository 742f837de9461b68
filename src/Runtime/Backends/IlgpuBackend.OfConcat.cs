using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

/// <summary>The ops that read an up block's skip concat in place: no concatenated tensor, no concat launch.</summary>
public sealed partial class IlgpuBackend
{
    /// <summary>The GroupNorm kernel reading channels past a's from b (a group may straddle the seam): one launch.</summary>
    private protected override void GroupNormOfConcatCore(Tensor a, Tensor b, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation) =>
        (_groupNorm ??= new GroupNormKernels(Accelerator)).RunOfConcat(Stream, F(a), F(b), a.Shape[1], b.Shape[1], F(gamma), F(beta), F(y),
            SpatialOf(a), groups, eps, activation);

    /// <summary>The conv of the precision tier gathering input channels past a's from b: one launch.</summary>
    private protected override void Conv2dOfConcatCore(Tensor a, Tensor b, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, float outputScale)
    {
        var geometry = ConvGeometry(a, w, y, stride, padding, bias, residual, outputScale);
        geometry.InChannels = a.Shape[1] + b.Shape[1];
        geometry.SkipChannels = b.Shape[1];
        var yView = F(y);
        // Absent bias/residual: the kernels never read the view, any valid one will do.
        LaunchConv2d(F(a), F(w), bias is null ? yView : F(bias), yView, residual is null ? yView : F(residual), yView, geometry, F(b));
    }
}
