using DiffusionKernels.Kernels;

namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// FiLM for <c>resnet_time_scale_shift = "scale_shift"</c>: y = act(x·(1 + scale) + shift) with
    /// scale = ss[n, 0..C) and shift = ss[n, C..2C) broadcast over positions. x [N, C, ...], ss [N, 2C].
    /// </summary>
    public void ScaleShift(Tensor x, Tensor scaleShift, Tensor y, Activation activation = Activation.Identity)
    {
        const string op = "scale shift";
        Check.Owned(this, op, x, scaleShift, y);
        Check.Float(op, (x, "input"), (scaleShift, "scale/shift"), (y, "output"));
        if (x.Rank < 2) throw ShapeMismatchException.For(op, "input rank", "≥ 2 ([N, C, ...])", x.Shape);
        Check.Shape(op, scaleShift, $"scale/shift (input {x.Shape})", x.Shape[0], 2 * x.Shape[1]);
        Check.Same(op, x, "input", y, "output");
        Check.Known(op, activation, "activation");
        if (!Supports(BackendOp.ScaleShift))
        {
            OnCpu([x, scaleShift, y], [y], (cpu, m) => cpu.ScaleShift(m[x], m[scaleShift], m[y], activation));
            return;
        }
        ScaleShiftCore(x, scaleShift, y, activation);
    }

    /// <summary>y[n, c, ...] = x[n, c, ...] + b[n, c] (the time embedding added to a feature map). x [N, C, ...], b [N, C].</summary>
    public void AddChannelBias(Tensor x, Tensor bias, Tensor y)
    {
        const string op = "add channel bias";
        Check.Owned(this, op, x, bias, y);
        Check.Float(op, (x, "input"), (bias, "bias"), (y, "output"));
        if (x.Rank < 2) throw ShapeMismatchException.For(op, "input rank", "≥ 2 ([N, C, ...])", x.Shape);
        Check.Shape(op, bias, $"bias (input {x.Shape})", x.Shape[0], x.Shape[1]);
        Check.Same(op, x, "input", y, "output");
        AddChannelBiasChecked(x, bias, 0, y);
    }

    /// <summary>
    /// y[n, c, ...] = x[n, c, ...] + bias[n, biasOffset + c]: the bias is the column slice [biasOffset, biasOffset + C)
    /// of bias [N, S] (the fused time-embedding projections of every resnet block, read in place). x [N, C, ...].
    /// </summary>
    internal void AddChannelBias(Tensor x, Tensor bias, int biasOffset, Tensor y)
    {
        const string op = "add channel bias";
        Check.Owned(this, op, x, bias, y);
        Check.Float(op, (x, "input"), (bias, "bias"), (y, "output"));
        if (x.Rank < 2) throw ShapeMismatchException.For(op, "input rank", "≥ 2 ([N, C, ...])", x.Shape);
        Check.Rank(op, bias, 2, "bias");
        if (bias.Shape[0] != x.Shape[0] || biasOffset < 0 || (long)biasOffset + x.Shape[1] > bias.Shape[1])
            throw new ShapeMismatchException($"{op}: bias {bias.Shape} has no columns [{biasOffset}, {(long)biasOffset + x.Shape[1]}) for {x.Shape[0]} samples of input {x.Shape}");
        Check.Same(op, x, "input", y, "output");
        AddChannelBiasChecked(x, bias, biasOffset, y);
    }

    private void AddChannelBiasChecked(Tensor x, Tensor bias, int biasOffset, Tensor y)
    {
        if (!Supports(BackendOp.AddChannelBias))
        {
            OnCpu([x, bias, y], [y], (cpu, m) => cpu.AddChannelBias(m[x], m[bias], biasOffset, m[y]));
            return;
        }
        AddChannelBiasCore(x, bias, biasOffset, y);
    }

    private protected virtual void ScaleShiftCore(Tensor x, Tensor scaleShift, Tensor y, Activation activation) => throw NotImplementedHere(BackendOp.ScaleShift);
    private protected virtual void AddChannelBiasCore(Tensor x, Tensor bias, int biasOffset, Tensor y) => throw NotImplementedHere(BackendOp.AddChannelBias);
}
