namespace DiffusionKernels.Kernels.Cpu;

/// <summary>Row gather for class embeddings: y[n] = table[labels[n]].</summary>
internal static class EmbeddingLookup
{
    /// <summary>
    /// table [tableRows, dim], labels [N] in [0, tableRows) (checked by <c>Backend.EmbeddingLookup</c>), y [N, dim].
    /// </summary>
    public static void Lookup(ReadOnlySpan<float> table, int tableRows, int dim, ReadOnlySpan<long> labels, Span<float> y)
    {
        for (int n = 0; n < labels.Length; n++)
            table.Slice((int)labels[n] * dim, dim).CopyTo(y.Slice(n * dim, dim));
    }
}
