using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void NchwToTokensCore(Tensor x, Tensor y) =>
        TokenLayout.NchwToTokens(F(x), F(y), x.Shape[0], x.Shape[1], x.Shape[2] * x.Shape[3]);

    private protected override void TokensToNchwCore(Tensor x, Tensor y, Tensor? residual, float outputScale) =>
        TokenLayout.TokensToNchw(F(x), F(y), residual is null ? default : F(residual), y.Shape[0], y.Shape[1], y.Shape[2] * y.Shape[3], outputScale);
}
