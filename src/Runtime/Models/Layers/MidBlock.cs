using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>UNetMidBlock2D: resnet, optional attention, resnet; all scaled by mid_block_scale_factor.</summary>
internal sealed class MidBlock
{
    private readonly ResnetBlock _first, _second;
    private readonly AttentionBlock? _attention;

    public MidBlock(ModelWeights w, UNetConfig c)
    {
        int ch = c.BlockOutChannels[^1];
        int groups = c.NormNumGroups ?? Math.Min(ch / 4, 32);
        int? attnGroups = c.AttnNormNumGroups ?? (c.ResnetTimeScaleShift == "default" ? groups : null);
        _first = new ResnetBlock(w, "mid_block.resnets.0", c, ch, ch, c.MidBlockScaleFactor, groups: groups);
        if (c.AddAttention)
            _attention = new AttentionBlock(w, "mid_block.attentions.0", ch, c.AttentionHeadDim ?? ch, attnGroups, c.NormEps, c.MidBlockScaleFactor);
        _second = new ResnetBlock(w, "mid_block.resnets.1", c, ch, ch, c.MidBlockScaleFactor, groups: groups);
    }

    /// <summary>The block's resnets, in order.</summary>
    public IEnumerable<ResnetBlock> Resnets => [_first, _second];

    public PlanValue Emit(PlanBuilder pb, PlanValue h, TimeProjections tembAct, UNetFusions fusions)
    {
        h = _first.Emit(pb, h, tembAct);
        if (_attention is not null) h = _attention.Emit(pb, h, fusions);
        return _second.Emit(pb, h, tembAct);
    }
}
