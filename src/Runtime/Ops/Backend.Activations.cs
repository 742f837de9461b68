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
        ActivateCore(x, y, activation);
    }

    protected abstract void ActivateCore(Tensor x, Tensor y, Activation activation);
}
