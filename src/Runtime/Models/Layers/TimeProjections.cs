using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// Where each resnet block of one forward being recorded gets its time_emb_proj(act(temb)): its own Linear (unfused),
/// or its column slice of the one stacked GEMM (<see cref="FusedTimeProjection"/>), recorded where the first block
/// asks for it. <paramref name="biasInConv"/>: each block adds its projection in conv1's epilogue rather than in its own step.
/// </summary>
internal sealed class TimeProjections(PlanValue activated, FusedTimeProjection? fused, bool biasInConv)
{
    private PlanValue? _stacked;

    /// <summary>act(time embedding) [B, T], the input of every projection.</summary>
    public PlanValue Activated { get; } = activated;

    /// <summary>True when a resnet block adds its projection (a per-sample channel bias) in conv1's epilogue.</summary>
    public bool BiasInConv { get; } = biasInConv;

    /// <summary>
    /// The projection of <paramref name="projection"/> as (values, first column): a [B, ΣC] matrix and the block's
    /// offset into it when fused, else its own [B, C] output at column 0. <paramref name="name"/> names an unfused step.
    /// </summary>
    public (PlanValue Values, int Offset) For(PlanBuilder pb, string name, LinearLayer projection)
    {
        if (fused?.OffsetOf(projection) is int offset)
        {
            _stacked ??= fused.Emit(pb, "time_emb_proj", Activated);
            return (_stacked, offset);
        }
        return (projection.Emit(pb, name, Activated), 0);
    }
}
