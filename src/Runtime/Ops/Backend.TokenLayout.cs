namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>Feature map to token sequence: x [N, C, H, W] → y [N, H·W, C] (token = i·W + j).</summary>
    public void NchwToTokens(Tensor x, Tensor y)
    {
        const string op = "nchw to tokens";
        Check.Owned(this, op, x, y);
        Check.Float(op, (x, "input"), (y, "output"));
        Check.Rank(op, x, 4, "input");
        Check.Shape(op, y, $"output (input {x.Shape})", x.Shape[0], x.Shape[2] * x.Shape[3], x.Shape[1]);
        if (!Supports(BackendOp.NchwToTokens))
        {
            OnCpu([x, y], [y], (cpu, m) => cpu.NchwToTokens(m[x], m[y]));
            return;
        }
        NchwToTokensCore(x, y);
    }

    /// <summary>
    /// Token sequence back to a feature map with an optional fused residual:
    /// y [N, C, H, W] = (tokensᵀ + residual) · outputScale, x [N, H·W, C].
    /// </summary>
    public void TokensToNchw(Tensor x, Tensor y, Tensor? residual = null, float outputScale = 1f)
    {
        const string op = "tokens to nchw";
        Check.Owned(this, op, x, y, residual);
        Check.Float(op, (x, "input"), (y, "output"), (residual, "residual"));
        Check.Rank(op, y, 4, "output");
        Check.Shape(op, x, $"input (output {y.Shape})", y.Shape[0], y.Shape[2] * y.Shape[3], y.Shape[1]);
        if (residual is not null) Check.Same(op, residual, "residual", y, "output");
        if (!Supports(BackendOp.TokensToNchw))
        {
            OnCpu([x, y, residual], [y], (cpu, m) => cpu.TokensToNchw(m[x], m[y], m.Maybe(residual), outputScale));
            return;
        }
        TokensToNchwCore(x, y, residual, outputScale);
    }

    private protected virtual void NchwToTokensCore(Tensor x, Tensor y) => throw NotImplementedHere(BackendOp.NchwToTokens);
    private protected virtual void TokensToNchwCore(Tensor x, Tensor y, Tensor? residual, float outputScale) => throw NotImplementedHere(BackendOp.TokensToNchw);
}
