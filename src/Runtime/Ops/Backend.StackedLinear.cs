namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// Several nn.Linear layers of one input in one op: y[z] = x·w[z]ᵀ + bias[z] for z in [0, Z). x [..., K] (leading
    /// dims flattened to M), w [Z, N, K], bias [Z, N], y [Z, M, N] (an attention block's q, k and v, one launch).
    /// </summary>
    internal void StackedLinear(Tensor x, Tensor w, Tensor bias, Tensor y)
    {
        const string op = "stacked linear";
        Check.Owned(this, op, x, w, bias, y);
        Check.Float(op, (x, "input"), (w, "weight"), (bias, "bias"), (y, "output"));
        Check.Rank(op, w, 3, "weight");
        Check.Rank(op, y, 3, "output");
        int z = w.Shape[0], n = w.Shape[1], k = w.Shape[2];
        if (x.Shape[-1] != k) throw ShapeMismatchException.For(op, $"input last dimension (weight is {w.Shape})", k, x.Shape);
        long m = x.Length / k;
        if (m > int.MaxValue) throw new ArgumentException($"{op}: input {x.Shape} has more than 2^31 rows");
        Check.Shape(op, y, $"output (input {x.Shape}, weight {w.Shape})", z, (int)m, n);
        Check.Shape(op, bias, "bias", z, n);
        if (!Supports(BackendOp.Linear))
        {
            OnCpu([x, w, bias, y], [y], (cpu, c) => cpu.StackedLinear(c[x], c[w], c[bias], c[y]));
            return;
        }
        StackedLinearCore(x, w, bias, y, z, (int)m, n, k);
    }

    /// <summary>
    /// Kernel entry of <see cref="StackedLinear"/>; the default runs one <see cref="LinearCore"/> per layer on views,
    /// which is exactly the unfused result (one launch each on a backend that counts them).
    /// </summary>
    private protected virtual void StackedLinearCore(Tensor x, Tensor w, Tensor bias, Tensor y, int z, int m, int n, int k)
    {
        var rows = new Shape(m, k);
        using var input = x.View(rows);
        for (int i = 0; i < z; i++)
        {
            using var wi = w.View(new Shape(n, k), (long)i * n * k);
            using var bi = bias.View(new Shape(n), (long)i * n);
            using var yi = y.View(new Shape(m, n), (long)i * m * n);
            LinearCore(input, wi, bi, yi, m, n, k, Kernels.Activation.Identity);
        }
    }
}
