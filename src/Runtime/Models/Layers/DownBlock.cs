using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// DownBlock2D / AttnDownBlock2D / ResnetDownsampleBlock2D: resnets (each optionally followed by attention),
/// then an optional downsampler (stride-2 conv, or a resnet block with average pooling). Every output is
/// pushed on the skip stack.
/// </summary>
public sealed class DownBlock : IDownBlock
{
    private readonly List<(ResnetBlock Resnet, AttentionBlock? Attention)> _layers = [];
    private readonly Conv2dLayer? _downConv;
    private readonly ResnetBlock? _downResnet;

    public DownBlock(ModelWeights w, string prefix, string type, UNetConfig c, int cin, int cout, bool addDownsample)
    {
        bool attention = type == "AttnDownBlock2D";
        for (int j = 0; j < c.LayersPerBlock; j++)
        {
            var r = new ResnetBlock(w, $"{prefix}.resnets.{j}", c, j == 0 ? cin : cout, cout);
            var a = attention ? new AttentionBlock(w, $"{prefix}.attentions.{j}", cout, c.AttentionHeadDim ?? cout, c.NormNumGroups, c.NormEps) : null;
            _layers.Add((r, a));
        }
        if (!addDownsample) return;
        bool resnetDown = type == "ResnetDownsampleBlock2D" || (attention && c.DownsampleType == "resnet");
        if (resnetDown) _downResnet = new ResnetBlock(w, $"{prefix}.downsamplers.0", c, cout, cout, resample: ResnetResample.Down);
        else _downConv = new Conv2dLayer(w, $"{prefix}.downsamplers.0.conv", cout, cout, 3, stride: 2,
            padding: c.DownsamplePadding, extraPadBottomRight: c.DownsamplePadding == 0 ? 1 : 0);
    }

    public PlanValue Emit(PlanBuilder pb, string prefix, PlanValue h, PlanValue tembAct, List<PlanValue> skips, ref PlanValue? skipSample)
    {
        foreach (var (r, a) in _layers)
        {
            h = r.Emit(pb, h, tembAct);
            if (a is not null) h = a.Emit(pb, h);
            skips.Add(h);
        }
        if (_downConv is not null) { h = _downConv.Emit(pb, prefix + ".downsamplers.0.conv", h); skips.Add(h); }
        if (_downResnet is not null) { h = _downResnet.Emit(pb, h, tembAct); skips.Add(h); }
        return h;
    }
}
