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
        Check.Known(op, activation);
        GroupNormCore(x, gamma, beta, y, groups, eps, activation);
    }

    /// <summary>y = act(x) element-wise; y may be x.</summary>
    public void Activate(Tensor x, Tensor y, Activation activation)
    {
        const string op = "activation";
        Check.Owned(this, op, x, y);
        Check.Float(op, (x, "input"), (y, "output"));
        Check.Same(op, x, "input", y, "output");
        Check.Known(op, activation);
        ActivateCore(x, y, activation);
    }

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
        Check.Known(op, activation);
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
        AddChannelBiasCore(x, bias, y);
    }

    /// <summary>Per-sample reduction over all non-batch dimensions: x [B, ...] → result [B].</summary>
    public void Reduce(Tensor x, Tensor result, Reduction kind)
    {
        const string op = "reduce";
        Check.Owned(this, op, x, result);
        Check.Float(op, (x, "input"), (result, "result"));
        Check.Shape(op, result, $"result (input {x.Shape})", x.Shape[0]);
        ReduceCore(x, result, kind);
    }

    /// <summary>
    /// firstStep[b] = min(firstStep[b], step) for every sample b of x [B, ...] that holds a NaN or ±∞. firstStep is an
    /// int64 [B] tensor (start it at <see cref="long.MaxValue"/>); nothing is copied to the host, so a sampler can
    /// check every step and read the flags only now and then.
    /// </summary>
    public void FlagNonFinite(Tensor x, Tensor firstStep, long step)
    {
        const string op = "flag non-finite";
        Check.Owned(this, op, x, firstStep);
        Check.Float(op, (x, "input"));
        Check.DType(op, firstStep, Runtime.DType.Int64, "flags");
        Check.Shape(op, firstStep, $"flags (input {x.Shape})", x.Shape[0]);
        FlagNonFiniteCore(x, firstStep, step);
    }

    protected abstract void FlagNonFiniteCore(Tensor x, Tensor firstStep, long step);
    protected abstract void GroupNormCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation);
    protected abstract void ActivateCore(Tensor x, Tensor y, Activation activation);
    protected abstract void ScaleShiftCore(Tensor x, Tensor scaleShift, Tensor y, Activation activation);
    protected abstract void AddChannelBiasCore(Tensor x, Tensor bias, Tensor y);
    protected abstract void ReduceCore(Tensor x, Tensor result, Reduction kind);
}
