using Twins = DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    protected override void AttentionCore(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale) =>
        Twins.Attention.Forward(F(q), F(k), F(v), F(o), q.Shape[0], q.Shape[1], k.Shape[1], q.Shape[2], heads, scale);

    protected override void NchwToTokensCore(Tensor x, Tensor y) =>
        Twins.TokenLayout.NchwToTokens(F(x), F(y), x.Shape[0], x.Shape[1], x.Shape[2] * x.Shape[3]);

    protected override void TokensToNchwCore(Tensor x, Tensor y, Tensor? residual, float outputScale) =>
        Twins.TokenLayout.TokensToNchw(F(x), F(y), residual is null ? default : F(residual), y.Shape[0], y.Shape[1], y.Shape[2] * y.Shape[3], outputScale);

    protected override void RandomNormalCore(Tensor y, ulong seed, long firstSampleIndex, ulong offset) =>
        Twins.RandomNormal.Fill(F(y), y.Shape[0], seed, (ulong)firstSampleIndex, offset);
}
