using DiffusionKernels.Kernels;

namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>y = act(x) element-wise; y may be x.</summary>
    public void Activate(Tensor x, Tensor y, Activation activation)
    {
        const string op = "activation";
        Check.Owned(this, op, x, y);
        Check.Float(op, (x, "input"), (y, "output"));
        Check.Same(op, x, "input", y, "output");
        Check.Known(op, activation, "activation");
        if (!Supports(BackendOp.Activate))
        {
            OnCpu([x, y], [y], (cpu, m) => cpu.Activate(m[x], m[y], activation));
            return;
        }
        ActivateCore(x, y, activation);
    }

    private protected virtual void ActivateCore(Tensor x, Tensor y, Activation activation) => throw NotImplementedHere(BackendOp.Activate);
}
