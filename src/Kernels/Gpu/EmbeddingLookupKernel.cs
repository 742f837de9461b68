using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Row gather for class embeddings, y[n] = table[labels[n]], one thread per output element.
/// </summary>
/// <remarks>
/// <c>Backend.EmbeddingLookup</c> checks the labels on the host before the launch (the ILGPU backend keeps a host copy
/// of uploaded int64 tensors, so this costs no wait), and throws for one outside [0, tableRows) on every backend. The
/// kernel still never reads out of bounds: such a label would make its output row NaN.
/// </remarks>
internal sealed class EmbeddingLookupKernel
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<long>, ArrayView<float>, int, int> _kernel;

    /// <summary>Compiles the kernel for <paramref name="accelerator"/>.</summary>
    public EmbeddingLookupKernel(Accelerator accelerator) =>
        _kernel = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<long>, ArrayView<float>, int, int>(Lookup);

    /// <summary>table [tableRows, dim], labels [N] int64, y [N, dim].</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> table, ArrayView<long> labels, ArrayView<float> y, int tableRows, int dim)
    {
        if (y.Length > 0) _kernel(LaunchCounter.Count(stream), ElementwiseKernels.Threads(y.Length, "embedding lookup"), table, labels, y, tableRows, dim);
    }

    private static void Lookup(Index1D i, ArrayView<float> table, ArrayView<long> labels, ArrayView<float> y, int tableRows, int dim)
    {
        int row = i / dim;
        int column = i - row * dim;
        long label = labels[row];
        y[i] = label >= 0 && label < tableRows ? table[label * dim + column] : float.NaN;
    }
}
