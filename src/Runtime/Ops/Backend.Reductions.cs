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
        if (!Supports(BackendOp.Reduce))
        {
            OnCpu([x, result], [result], (cpu, m) => cpu.Reduce(m[x], m[result], kind));
            return;
        }
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
        if (!Supports(BackendOp.FlagNonFinite))
        {
            OnCpu([x, firstStep], [firstStep], (cpu, m) => cpu.FlagNonFinite(m[x], m[firstStep], step));
            return;
        }
        FlagNonFiniteCore(x, firstStep, step);
    }

    private protected virtual void ReduceCore(Tensor x, Tensor result, Reduction kind) => throw NotImplementedHere(BackendOp.Reduce);
    private protected virtual void FlagNonFiniteCore(Tensor x, Tensor firstStep, long step) => throw NotImplementedHere(BackendOp.FlagNonFinite);
}
