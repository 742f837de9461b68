using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private TokenLayoutKernels? _tokenLayout;

    private protected override void NchwToTokensCore(Tensor x, Tensor y) =>
        (_tokenLayout ??= new TokenLayoutKernels(Accelerator)).NchwToTokens(Stream, F(x), F(y), x.Shape[0], x.Shape[1], x.Shape[2] * x.Shape[3]);

    private protected override void TokensToNchwCore(Tensor x, Tensor y, Tensor? residual, float outputScale) =>
        (_tokenLayout ??= new TokenLayoutKernels(Accelerator)).TokensToNchw(Stream, F(x), F(y), residual is null ? null : F(residual),
            y.Shape[0], y.Shape[1], y.Shape[2] * y.Shape[3], outputScale);
}
