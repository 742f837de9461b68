namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// Multi-head scaled dot-product attention, o = softmax(q·kᵀ·scale)·v per head, with a numerically
    /// stable softmax. q [B, T, C], k and v [B, S, C], o [B, T, C]; head h uses channels [h·d, (h+1)·d)
    /// with d = C / heads.
    /// </summary>
    public void Attention(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale)
    {
        const string op = "attention";
        Check.Owned(this, op, q, k, v, o);
        Check.Float(op, (q, "query"), (k, "key"), (v, "value"), (o, "output"));
        Check.Rank(op, q, 3, "query");
        Check.Rank(op, k, 3, "key");
        int b = q.Shape[0], t = q.Shape[1], c = q.Shape[2];
        if (heads < 1 || c % heads != 0) throw new ArgumentException($"{op}: {heads} heads do not divide the {c} channels of query {q.Shape}");
        if (k.Shape[0] != b || k.Shape[2] != c) throw new ShapeMismatchException($"{op}: query {q.Shape} and key {k.Shape} disagree in batch or channels");
        Check.Same(op, k, "key", v, "value");
        Check.Same(op, q, "query", o, "output");
        if (!Supports(BackendOp.Attention))
        {
            OnCpu([q, k, v, o], [o], (cpu, m) => cpu.Attention(m[q], m[k], m[v], m[o], heads, scale));
            return;
        }
        AttentionCore(q, k, v, o, heads, scale);
    }

    private protected virtual void AttentionCore(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale) => throw NotImplementedHere(BackendOp.Attention);
}
