namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>Per-sample reduction over all non-batch dimensions: x [B, ...] → result [B].</summary>
    public void Reduce(Tensor x, Tensor result, Reduction kind)
    {
        const string op = "reduce";
        Check.Owned(this, op, x, result);
        Check.Float(op, (x, "input"), (result, "result"));
        Check.Shape(op, result, $"result (input {x.Shape})", x.Shape[0]);
        Check.Known(op, kind, "reduction");
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

    protected abstract void ReduceCore(Tensor x, Tensor result, Reduction kind);
    protected abstract void FlagNonFiniteCore(Tensor x, Tensor firstStep, long step);
}
