namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void EmbeddingLookupCore(Tensor table, Tensor labels, Tensor y) =>
        Kernels.Cpu.EmbeddingLookup.Lookup(F(table), table.Shape[0], table.Shape[1], L(labels), F(y));
}
