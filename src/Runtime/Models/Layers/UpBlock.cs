using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// UpBlock2D / AttnUpBlock2D / ResnetUpsampleBlock2D: layers_per_block + 1 resnets, each fed
/// cat([h, skip]) with skips popped newest first (each optionally followed by attention), then an
/// optional upsampler (nearest ×2 + conv, or a resnet block with nearest ×2).
/// </summary>
public sealed class UpBlock : IUpBlock
{
    private readonly List<(ResnetBlock Resnet, AttentionBlock? Attention)> _layers = [];
    private readonly Conv2dLayer? _upConv;
    private readonly ResnetBlock? _upResnet;

    public UpBlock(ModelWeights w, string prefix, string type, UNetConfig c, int prevOut, int cout, int cin, bool addUpsample)
    {
        bool attention = type == "AttnUpBlock2D";
        int n = c.LayersPerBlock + 1;
        for (int j = 0; j < n; j++)
        {
            int resIn = (j == 0 ? prevOut : cout) + (j == n - 1 ? cin : cout);
            var r = new ResnetBlock(w, $"{prefix}.resnets.{j}", c, resIn, cout);
            var a = attention ? new AttentionBlock(w, $"{prefix}.attentions.{j}", cout, c.AttentionHeadDim ?? cout, c.NormNumGroups, c.NormEps) : null;
            _layers.Add((r, a));
        }
        if (!addUpsample) return;
        bool resnetUp = type == "ResnetUpsampleBlock2D" || (attention && c.UpsampleType == "resnet");
        if (resnetUp) _upResnet = new ResnetBlock(w, $"{prefix}.upsamplers.0", c, cout, cout, resample: ResnetResample.Up);
        else _upConv = new Conv2dLayer(w, $"{prefix}.upsamplers.0.conv", cout, cout, 3, padding: 1);
    }

    public PlanValue Emit(PlanBuilder pb, string prefix, PlanValue h, PlanValue tembAct, List<PlanValue> skips, ref PlanValue? skipSample)
    {
        int j = 0;
        foreach (var (r, a) in _layers)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            h = Resample.Concat(pb, $"{prefix}.cat{j++}", h, skip);
            h = r.Emit(pb, h, tembAct);
            if (a is not null) h = a.Emit(pb, h);
        }
        if (_upConv is not null) h = _upConv.Emit(pb, prefix + ".upsamplers.0.conv", Resample.Up(pb, prefix + ".upsamplers.0.nearest", h));
        if (_upResnet is not null) h = _upResnet.Emit(pb, h, tembAct);
        return h;
    }
}
