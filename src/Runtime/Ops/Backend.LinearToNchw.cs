namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// An attention block's out-projection, its transpose back to a feature map and its residual in one op:
    /// y [N, C, H, W] = ((tokens·wᵀ + bias)ᵀ + residual) · outputScale, tokens [N, H·W, K], w [C, K], bias [C], residual
    /// like y (it may not be y): <see cref="Linear"/> then <see cref="TokensToNchw"/>, one launch instead of two.
    /// </summary>
    internal void LinearToNchw(Tensor tokens, Tensor w, Tensor? bias, Tensor y, Tensor residual, float outputScale)
    {
        const string op = "linear to nchw";
        Check.Owned(this, op, tokens, w, bias, y, residual);
        Check.Float(op, (tokens, "input"), (w, "weight"), (bias, "bias"), (y, "output"), (residual, "residual"));
        Check.Rank(op, w, 2, "weight");
        Check.Rank(op, y, 4, "output");
        int c = w.Shape[0], k = w.Shape[1];
        Check.Shape(op, tokens, $"input (output {y.Shape}, weight {w.Shape})", y.Shape[0], y.Shape[2] * y.Shape[3], k);
        if (y.Shape[1] != c) throw ShapeMismatchException.For(op, $"output channels (weight is {w.Shape})", c, y.Shape);
        if (bias is not null) Check.Shape(op, bias, "bias", c);
        Check.Same(op, residual, "residual", y, "output");
        if (!Supports(BackendOp.Linear) || !Supports(BackendOp.TokensToNchw))
        {
            OnCpu([tokens, w, bias, y, residual], [y], (cpu, m) => cpu.LinearToNchw(m[tokens], m[w], m.Maybe(bias), m[y], m[residual], outputScale));
            return;
        }
        LinearToNchwCore(tokens, w, bias, y, residual, outputScale);
    }

    /// <summary>Kernel entry of <see cref="LinearToNchw"/>.</summary>
    private protected virtual void LinearToNchwCore(Tensor tokens, Tensor w, Tensor? bias, Tensor y, Tensor residual, float outputScale) =>
        throw NotImplementedHere(BackendOp.Linear);
}
