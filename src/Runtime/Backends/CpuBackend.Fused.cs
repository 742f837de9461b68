using System.Buffers;
using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    /// <summary>
    /// The Linear into pooled scratch, then the transpose with the residual: the bits of the two ops it stands for (the
    /// CPU pays no launch per op). The scratch is rented, so a replayed plan allocates nothing for it.
    /// </summary>
    private protected override void LinearToNchwCore(Tensor tokens, Tensor w, Tensor? bias, Tensor y, Tensor residual, float outputScale)
    {
        int samples = y.Shape[0], c = y.Shape[1], pixels = y.Shape[2] * y.Shape[3], k = w.Shape[1];
        int length = checked((int)tokens.Length / k * c);
        float[] scratch = ArrayPool<float>.Shared.Rent(length);
        try
        {
            var projected = scratch.AsSpan(0, length);
            Kernels.Cpu.Linear.Forward(F(tokens), F(w), bias is null ? default : F(bias), projected, samples * pixels, c, k, Activation.Identity);
            TokenLayout.TokensToNchw(projected, F(y), F(residual), samples, c, pixels, outputScale);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>The GroupNorm into pooled scratch, then the transpose to tokens: the bits of the two ops it stands for.</summary>
    private protected override void GroupNormToTokensCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps)
    {
        int samples = x.Shape[0], c = x.Shape[1], pixels = x.Shape[2] * x.Shape[3];
        int length = checked((int)x.Length);
        float[] scratch = ArrayPool<float>.Shared.Rent(length);
        try
        {
            var normed = scratch.AsSpan(0, length);
            Kernels.Cpu.GroupNorm.Forward(F(x), F(gamma), F(beta), normed, samples, c, pixels, groups, eps, Activation.Identity);
            TokenLayout.NchwToTokens(normed, F(y), samples, c, pixels);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }
}
