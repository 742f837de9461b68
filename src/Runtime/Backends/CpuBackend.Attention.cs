using Twins = DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void AttentionCore(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale) =>
        Twins.Attention.Forward(F(q), F(k), F(v), F(o), q.Shape[0], q.Shape[1], k.Shape[1], q.Shape[2], heads, scale);
}
