using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private EmbeddingLookupKernel? _embeddingLookup;

    private protected override void EmbeddingLookupCore(Tensor table, Tensor labels, Tensor y) =>
        (_embeddingLookup ??= new EmbeddingLookupKernel(Accelerator)).Run(Stream, F(table), L(labels), F(y), table.Shape[0], table.Shape[1]);
}
