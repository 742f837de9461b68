using DiffusionKernels.Kernels;

namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// y = act(GroupNorm(cat(a, b))·γ + β) with the channel concat read in place: a [N, Ca, H, W] and b [N, Cb, H, W]
    /// are channels [0, Ca) and [Ca, Ca + Cb) of the normalised input (a group may hold channels of both), y is
    /// [N, Ca + Cb, H, W]. One launch instead of a concat and a GroupNorm, and no concatenated tensor.
    /// </summary>
    internal void GroupNormOfConcat(Tensor a, Tensor b, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation)
    {
        const string op = "group norm of concat";
        Check.Owned(this, op, a, b, gamma, beta, y);
        Check.Float(op, (a, "first input"), (b, "second input"), (gamma, "weight"), (beta, "bias"), (y, "output"));
        var seen = ConcatShape(op, a, b);
        int c = seen[1];
        if (groups < 1 || c % groups != 0) throw new ArgumentException($"{op}: {c} channels of {seen} are not divisible into {groups} groups");
        Check.Shape(op, gamma, "weight", c);
        Check.Shape(op, beta, "bias", c);
        Check.Shape(op, y, $"output (first {a.Shape}, second {b.Shape})", seen[0], seen[1], seen[2], seen[3]);
        Check.Known(op, activation, "activation");
        if (!Supports(BackendOp.GroupNorm))
        {
            OnCpu([a, b, gamma, beta, y], [y], (cpu, m) => cpu.GroupNormOfConcat(m[a], m[b], m[gamma], m[beta], m[y], groups, eps, activation));
            return;
        }
        GroupNormOfConcatCore(a, b, gamma, beta, y, groups, eps, activation);
    }

    /// <summary>
    /// y = (conv2d(cat(a, b), w) + bias + residual) · outputScale with the channel concat read inside the conv's
    /// gather: a [N, Ca, H, W] gives input channels [0, Ca), b [N, Cb, H, W] channels [Ca, Ca + Cb); w is
    /// [Cout, Ca + Cb, kh, kw]. One launch instead of a concat and a conv, and no concatenated tensor.
    /// </summary>
    internal void Conv2dOfConcat(Tensor a, Tensor b, Tensor w, Tensor? bias, Tensor y, int stride = 1, int padding = 0,
        Tensor? residual = null, float outputScale = 1f)
    {
        Check.Owned(this, "conv2d of concat", b);
        Check.Float("conv2d of concat", (b, "second input"));
        CheckConv2d(a, w, bias, y, stride, padding, residual, 0, second: b);
        if (!Supports(BackendOp.Conv2d))
        {
            OnCpu([a, b, w, bias, y, residual], [y], (cpu, m) => cpu.Conv2dOfConcat(m[a], m[b], m[w], m.Maybe(bias), m[y], stride, padding, m.Maybe(residual), outputScale));
            return;
        }
        Conv2dOfConcatCore(a, b, w, bias, y, stride, padding, residual, outputScale);
    }

    /// <summary>The shape of cat(a, b) along channels, both [N, C, H, W] with equal N, H and W.</summary>
    private static Shape ConcatShape(string op, Tensor a, Tensor b)
    {
        Check.Rank(op, a, 4, "first input");
        Check.Rank(op, b, 4, "second input");
        if (a.Shape[0] != b.Shape[0] || a.Shape[2] != b.Shape[2] || a.Shape[3] != b.Shape[3])
            throw new ShapeMismatchException($"{op}: first input {a.Shape} and second input {b.Shape} differ outside the channel dimension");
        return new Shape(a.Shape[0], a.Shape[1] + b.Shape[1], a.Shape[2], a.Shape[3]);
    }

    /// <summary>Kernel entry of <see cref="GroupNormOfConcat"/>.</summary>
    private protected virtual void GroupNormOfConcatCore(Tensor a, Tensor b, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation) =>
        throw NotImplementedHere(BackendOp.GroupNorm);

    /// <summary>Kernel entry of <see cref="Conv2dOfConcat"/>; output size from <paramref name="y"/>.</summary>
    private protected virtual void Conv2dOfConcatCore(Tensor a, Tensor b, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, float outputScale) =>
        throw NotImplementedHere(BackendOp.Conv2d);
}
