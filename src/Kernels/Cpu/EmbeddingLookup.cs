namespace DiffusionKernels.Kernels.Cpu;

/// <summary>Row gather for class embeddings: y[n] = table[labels[n]].</summary>
public static class EmbeddingLookup
{
    /// <summary>
    /// table [tableRows, dim], labels [N], y [N, dim]. Every label is checked before anything is written;
    /// one outside [0, tableRows) throws <see cref="ArgumentOutOfRangeException"/> naming it and the table size.
    /// </summary>
    public static void Lookup(ReadOnlySpan<float> table, int tableRows, int dim, ReadOnlySpan<long> labels, Span<float> y)
    {
        if (table.Length != (long)tableRows * dim || y.Length != (long)labels.Length * dim)
            throw new ArgumentException($"embedding lookup: table has {table.Length} elements (expected {tableRows}×{dim}), output {y.Length} (expected {labels.Length}×{dim})");
        for (int n = 0; n < labels.Length; n++)
            if ((ulong)labels[n] >= (ulong)tableRows)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[n],
                    $"embedding lookup: label {labels[n]} at position {n} is outside the table's {tableRows} rows (valid labels 0..{tableRows - 1})");
        for (int n = 0; n < labels.Length; n++)
            table.Slice((int)labels[n] * dim, dim).CopyTo(y.Slice(n * dim, dim));
    }
}
