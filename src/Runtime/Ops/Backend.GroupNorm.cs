using DiffusionKernels.Kernels;
namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// y = act(GroupNorm(x)·γ + β): x [N, C, ...], γ and β [C], C divisible by <paramref name="groups"/>;
    /// biased variance over each group's channels and positions, as PyTorch.
    /// </summary>
    public void GroupNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation = Activation.Identity)
    {
        const string op = "group norm";
        Check.Owned(this, op, x, gamma, beta, y);
        Check.Float(op, (x, "input"), (gamma, "weight"), (beta, "bias"), (y, "output"));
        if (x.Rank < 2) throw ShapeMismatchException.For(op, "input rank", "≥ 2 ([N, C, ...])", x.Shape);
        int c = x.Shape[1];
        if (groups < 1 || c % groups != 0) throw new ArgumentException($"{op}: {c} channels of {x.Shape} are not divisible into {groups} groups");
        Check.Shape(op, gamma, "weight", c);
        Check.Shape(op, beta, "bias", c);
        Check.Same(op, x, "input", y, "output");
        Check.Known(op, activation, "activation");
        if (!Supports(BackendOp.GroupNorm))
        {
            OnCpu([x, gamma, beta, y], [y], (cpu, m) => cpu.GroupNorm(m[x], m[gamma], m[beta], m[y], groups, eps, activation));
            return;
        }
        GroupNormCore(x, gamma, beta, y, groups, eps, activation);
    }

    private protected virtual void GroupNormCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation) => throw NotImplementedHere(BackendOp.GroupNorm);
}
