using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private AttentionKernels? _attention;

    private protected override void AttentionCore(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale) =>
        (_attention ??= new AttentionKernels(Accelerator)).Run(Stream, F(q), F(k), F(v), F(o),
            q.Shape[0], q.Shape[1], k.Shape[1], q.Shape[2], heads, scale);
}
