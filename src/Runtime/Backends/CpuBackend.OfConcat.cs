using System.Buffers;
using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    /// <summary>The GroupNorm reading both inputs in place (the seam group through y): the bits of the concat and the norm.</summary>
    private protected override void GroupNormOfConcatCore(Tensor a, Tensor b, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation) =>
        Kernels.Cpu.GroupNorm.ForwardOfConcat(F(a), F(b), F(gamma), F(beta), F(y), a.Shape[0], a.Shape[1], b.Shape[1], SpatialOf(a), groups, eps, activation);

    /// <summary>
    /// The implicit GEMM gathering its panels from both inputs; a shape the CPU runs as Winograd concatenates into pooled
    /// scratch first (its input transform reads one tensor). Either way the bits of the concat and the conv.
    /// </summary>
    private protected override void Conv2dOfConcatCore(Tensor a, Tensor b, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, float outputScale)
    {
        int n = a.Shape[0], cin = a.Shape[1] + b.Shape[1], h = a.Shape[2], wd = a.Shape[3];
        int cout = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3], ho = y.Shape[2], wo = y.Shape[3];
        var concatShape = new Shape(n, cin, h, wd);
        if (UsesWinograd(w.Shape, stride) && WinogradConv2d.FillsPanels(n, ho, wo))
        {
            int length = checked((int)concatShape.Length);
            float[] scratch = ArrayPool<float>.Shared.Rent(length);
            try
            {
                var cat = scratch.AsSpan(0, length);
                Elementwise.ConcatChannels(F(a), F(b), cat, n, checked((int)(a.Length / n)), checked((int)(b.Length / n)));
                Convolve(cat, concatShape, w, bias, y, stride, padding, residual, outputScale);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
            return;
        }
        var bs = bias is null ? default : F(bias);
        var r = residual is null ? default : F(residual);
        // The weights the plain conv would use: packed when declared (a declared Winograd weight packs on first use here).
        bool declared = _packedConv.TryGetValue(w, out var packed) || (UsesWinograd(w.Shape, stride) && _winogradConv.TryGetValue(w, out _) && (packed = PackOnFirstUse(w)) is not null);
        if (declared)
            ImplicitGemmConv2d.ForwardOfConcat(F(a), F(b), b.Shape[1], packed!, bs, r, F(y), n, cin, h, wd, cout, kh, kw, ho, wo, stride, padding, outputScale);
        else
            ImplicitGemmConv2d.ForwardOfConcat(F(a), F(b), b.Shape[1], F(w), bs, r, F(y), n, cin, h, wd, cout, kh, kw, ho, wo, stride, padding, outputScale);
    }
}
