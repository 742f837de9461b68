namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// Row lookup: y[n] = table[labels[n]]; table [V, D] float32, labels [N] int64, y [N, D]. A label outside [0, V) is an
    /// <see cref="ArgumentOutOfRangeException"/> naming it, on every backend (checked on the host before the kernel runs).
    /// </summary>
    public void EmbeddingLookup(Tensor table, Tensor labels, Tensor y)
    {
        const string op = "embedding lookup";
        Check.Owned(this, op, table, labels, y);
        Check.Float(op, (table, "table"), (y, "output"));
        Check.DType(op, labels, DType.Int64, "labels");
        Check.Rank(op, table, 2, "table");
        Check.Rank(op, labels, 1, "labels");
        Check.Shape(op, y, $"output (table {table.Shape}, labels {labels.Shape})", labels.Shape[0], table.Shape[1]);
        int rows = table.Shape[0];
        var values = new long[labels.Length];
        ReadInt64WithoutWaiting(labels, values);
        for (int n = 0; n < values.Length; n++)
            if ((ulong)values[n] >= (ulong)rows)
                throw new ArgumentOutOfRangeException(nameof(labels), values[n],
                    $"{op}: label {values[n]} at position {n} is outside the table's {rows} rows (valid labels 0..{rows - 1})");
        if (!Supports(BackendOp.EmbeddingLookup))
        {
            OnCpu([table, labels, y], [y], (cpu, m) => cpu.EmbeddingLookup(m[table], m[labels], m[y]));
            return;
        }
        EmbeddingLookupCore(table, labels, y);
    }

    /// <summary>
    /// The values of an int64 tensor for a host-side check. By default a plain copy to the host; a backend that can
    /// answer without waiting for its device (a host copy of what was uploaded) overrides it.
    /// </summary>
    private protected virtual void ReadInt64WithoutWaiting(Tensor t, Span<long> values) => CopyToHostCore(t, values);

    private protected virtual void EmbeddingLookupCore(Tensor table, Tensor labels, Tensor y) => throw NotImplementedHere(BackendOp.EmbeddingLookup);
}
