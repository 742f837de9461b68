using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Row gather for class embeddings, y[n] = table[labels[n]], one thread per output element.
/// </summary>
/// <remarks>
/// The labels live on the device, so checking them on the host would cost a download and a stall per call.
/// Instead a label outside [0, tableRows) makes its whole output row NaN: it never reads out of bounds and the
/// error cannot pass silently (it reaches the sampler's NaN check). The CPU backend throws instead.
/// </remarks>
public sealed class EmbeddingLookupKernel
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<long>, ArrayView<float>, int, int> _kernel;

    /// <summary>Compiles the kernel for <paramref name="accelerator"/>.</summary>
    public EmbeddingLookupKernel(Accelerator accelerator) =>
        _kernel = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<long>, ArrayView<float>, int, int>(Lookup);

    /// <summary>table [tableRows, dim], labels [N] int64, y [N, dim]; invalid labels give NaN rows.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> table, ArrayView<long> labels, ArrayView<float> y, int tableRows, int dim)
    {
        if (table.Length != (long)tableRows * dim || y.Length != labels.Length * dim)
            throw new ArgumentException($"embedding lookup: table has {table.Length} elements (expected {tableRows}×{dim}), output {y.Length} (expected {labels.Length}×{dim})");
        if (y.Length > 0) _kernel(stream, ElementwiseKernels.Threads(y.Length, "embedding lookup"), table, labels, y, tableRows, dim);
    }

    private static void Lookup(Index1D i, ArrayView<float> table, ArrayView<long> labels, ArrayView<float> y, int tableRows, int dim)
    {
        int row = i / dim;
        int column = i - row * dim;
        long label = labels[row];
        y[i] = label >= 0 && label < tableRows ? table[label * dim + column] : float.NaN;
    }
}
