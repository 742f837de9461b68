using DiffusionKernels.Kernels;
namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// y = act(x·wᵀ + b), PyTorch <c>nn.Linear</c> layout: x [..., K] (leading dims flattened to M),
    /// w [N, K], bias [N], y [..., N].
    /// </summary>
    public void Linear(Tensor x, Tensor w, Tensor? bias, Tensor y, Activation activation = Activation.Identity)
    {
        const string op = "linear";
        Check.Owned(this, op, x, w, bias, y);
        Check.Float(op, (x, "input"), (w, "weight"), (bias, "bias"), (y, "output"));
        Check.Rank(op, w, 2, "weight");
        int n = w.Shape[0], k = w.Shape[1];
        if (x.Shape[-1] != k) throw ShapeMismatchException.For(op, $"input last dimension (weight is {w.Shape})", k, x.Shape);
        if (y.Shape[-1] != n) throw ShapeMismatchException.For(op, $"output last dimension (weight is {w.Shape})", n, y.Shape);
        long m = x.Length / k;
        if (y.Length / n != m) throw ShapeMismatchException.For(op, $"output rows for input {x.Shape}", m, y.Shape);
        if (bias is not null) Check.Shape(op, bias, "bias", n);
        Check.Known(op, activation, "activation");
        if (!Supports(BackendOp.Linear))
        {
            OnCpu([x, w, bias, y], [y], (cpu, c) => cpu.Linear(c[x], c[w], c.Maybe(bias), c[y], activation));
            return;
        }
        LinearCore(x, w, bias, y, (int)m, n, k, activation);
    }

    /// <summary>
    /// c[b] = alpha · a[b] · op(b[b]) for every batch index: a [B, M, K]; b [B, K, N], or [B, N, K] when
    /// <paramref name="transposeB"/>; c [B, M, N].
    /// </summary>
    public void BatchedMatMul(Tensor a, Tensor b, Tensor c, bool transposeB = false, float alpha = 1f)
    {
        const string op = "batched matmul";
        Check.Owned(this, op, a, b, c);
        Check.Float(op, (a, "a"), (b, "b"), (c, "c"));
        Check.Rank(op, a, 3, "a");
        Check.Rank(op, b, 3, "b");
        Check.Rank(op, c, 3, "c");
        int batch = a.Shape[0], m = a.Shape[1], k = a.Shape[2];
        int kb = transposeB ? b.Shape[2] : b.Shape[1];
        int n = transposeB ? b.Shape[1] : b.Shape[2];
        if (b.Shape[0] != batch || kb != k)
            throw new ShapeMismatchException($"{op}: a {a.Shape} and b {b.Shape}{(transposeB ? " (transposed)" : "")} have incompatible shapes");
        Check.Shape(op, c, "c", batch, m, n);
        if (!Supports(BackendOp.BatchedMatMul))
        {
            OnCpu([a, b, c], [c], (cpu, h) => cpu.BatchedMatMul(h[a], h[b], h[c], transposeB, alpha));
            return;
        }
        BatchedMatMulCore(a, b, c, batch, m, n, k, transposeB, alpha);
    }

    private protected virtual void LinearCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int m, int n, int k, Activation activation) => throw NotImplementedHere(BackendOp.Linear);
    private protected virtual void BatchedMatMulCore(Tensor a, Tensor b, Tensor c, int batch, int m, int n, int k, bool transposeB, float alpha) => throw NotImplementedHere(BackendOp.BatchedMatMul);
}
