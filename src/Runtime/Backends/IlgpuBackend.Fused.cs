using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

/// <summary>The fused ops a compiled U-Net uses to save launches, each one kernel where the unfused steps are several.</summary>
public sealed partial class IlgpuBackend
{
    /// <summary>The conv with a resnet's per-sample time-embedding bias added in its epilogue: one launch, not a conv and an add.</summary>
    private protected override void Conv2dSampleBiasCore(Tensor x, Tensor w, Tensor? bias, Tensor sampleBias, int sampleBiasOffset, Tensor y,
        int stride, int padding, Tensor? residual, float outputScale)
    {
        var geometry = ConvGeometry(x, w, y, stride, padding, bias, residual, outputScale);
        geometry.HasSampleBias = 1;
        geometry.SampleBiasStride = sampleBias.Shape[1];
        var yView = F(y);
        // Absent bias/residual: the kernels never read the view, any valid one will do.
        LaunchConv2d(F(x), F(w), bias is null ? yView : F(bias), F(sampleBias).SubView(sampleBiasOffset),
            residual is null ? yView : F(residual), yView, geometry);
    }

    /// <summary>The conv reading its input through a nearest ×2 upsample (source pixel = tap / 2): no upsampled tensor, one launch.</summary>
    private protected override void Conv2dOfUpsampledCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride, int padding)
    {
        // The taps see the upsampled map (twice x's size); the gather reads stored pixel (iy >> 1, ix >> 1).
        var geometry = ConvGeometry(x, w, y, stride, padding, bias, null, 1f);
        geometry.Height *= 2;
        geometry.Width *= 2;
        geometry.InputShift = 1;
        var yView = F(y);
        LaunchConv2d(F(x), F(w), bias is null ? yView : F(bias), yView, yView, yView, geometry);
    }

    /// <summary>
    /// Z Linears of one input as one batched GEMM: the input shared (batch stride 0), weight z and bias z at their
    /// offsets, output z at z·M·N. Each output is the same tile's dot product as in its own Linear.
    /// </summary>
    private protected override void StackedLinearCore(Tensor x, Tensor w, Tensor bias, Tensor y, int z, int m, int n, int k)
    {
        var p = new GemmParams
        {
            M = m,
            N = n,
            K = k,
            Lda = k,
            Ldb = k,
            Ldc = n,
            StrideA = 0,
            StrideB = (long)n * k,
            StrideC = (long)m * n,
            StrideBias = n,
            TransB = 1,
            Alpha = 1f,
            Activation = Activation.Identity,
        };
        RunGemm(F(x), F(w), F(y), F(bias), p, z);
    }

    /// <summary>
    /// The out-projection as a GEMM per sample with channels as rows: y[n] [C, H·W] = w [C, K] · tokens[n]ᵀ, the bias
    /// per row, the residual and scale in the epilogue, so it writes the feature map directly (no token-layout output,
    /// no transpose launch). Each output is the same K-long dot product, in the same order, as in the Linear.
    /// </summary>
    private protected override void LinearToNchwCore(Tensor tokens, Tensor w, Tensor? bias, Tensor y, Tensor residual, float outputScale)
    {
        int samples = y.Shape[0], c = y.Shape[1], pixels = y.Shape[2] * y.Shape[3], k = w.Shape[1];
        var p = new GemmParams
        {
            M = c,
            N = pixels,
            K = k,
            Lda = k,
            Ldb = k,
            Ldc = pixels,
            StrideA = 0,
            StrideB = (long)pixels * k,
            StrideC = (long)c * pixels,
            TransB = 1,
            Alpha = 1f,
            BiasPerRow = 1,
            HasResidual = 1,
            ResidualScale = outputScale,
            Activation = Activation.Identity,
        };
        RunGemm(F(w), F(tokens), F(y), bias is null ? ILGPU.ArrayView<float>.Empty : F(bias), F(residual), p, samples);
    }

    /// <summary>The GroupNorm kernel storing each element at its token position: one launch, no NCHW copy of the normed map.</summary>
    private protected override void GroupNormToTokensCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps) =>
        (_groupNorm ??= new GroupNormKernels(Accelerator)).Run(Stream, F(x), F(gamma), F(beta), F(y), x.Shape[1], SpatialOf(x), groups, eps,
            Activation.Identity, tokensOut: true);
}
