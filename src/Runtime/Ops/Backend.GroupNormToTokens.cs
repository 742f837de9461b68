namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// An attention block's GroupNorm writing its token sequence: y [N, H·W, C] = tokens(GroupNorm(x)·γ + β), x [N, C,
    /// H, W]: <see cref="GroupNorm"/> then <see cref="NchwToTokens"/>, one launch instead of two.
    /// </summary>
    internal void GroupNormToTokens(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps)
    {
        const string op = "group norm to tokens";
        Check.Owned(this, op, x, gamma, beta, y);
        Check.Float(op, (x, "input"), (gamma, "gamma"), (beta, "beta"), (y, "output"));
        Check.Rank(op, x, 4, "input");
        int c = x.Shape[1];
        if (groups < 1 || c % groups != 0) throw new ArgumentOutOfRangeException(nameof(groups), $"{op}: {c} channels cannot be split into {groups} groups");
        Check.Shape(op, gamma, "gamma", c);
        Check.Shape(op, beta, "beta", c);
        Check.Shape(op, y, $"output (input {x.Shape})", x.Shape[0], x.Shape[2] * x.Shape[3], c);
        if (!Supports(BackendOp.GroupNorm) || !Supports(BackendOp.NchwToTokens))
        {
            OnCpu([x, gamma, beta, y], [y], (cpu, m) => cpu.GroupNormToTokens(m[x], m[gamma], m[beta], m[y], groups, eps));
            return;
        }
        GroupNormToTokensCore(x, gamma, beta, y, groups, eps);
    }

    /// <summary>Kernel entry of <see cref="GroupNormToTokens"/>.</summary>
    private protected virtual void GroupNormToTokensCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps) =>
        throw NotImplementedHere(BackendOp.GroupNorm);
}
