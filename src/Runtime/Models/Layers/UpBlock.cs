using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>How an up block doubles the resolution at its end (none in the last block).</summary>
internal enum Upsampler
{
    /// <summary>The last level: no upsampler.</summary>
    None,
    /// <summary>Nearest ×2, then a 3×3 conv (diffusers' Upsample2D with use_conv).</summary>
    Conv,
    /// <summary>A resnet block with nearest ×2 (up=True).</summary>
    Resnet,
}

/// <summary>
/// UpBlock2D / AttnUpBlock2D / ResnetUpsampleBlock2D: layers_per_block + 1 resnets, each fed cat([h, skip]) with skips
/// popped newest first (each optionally followed by attention), then an optional upsampler. <see cref="UNetBlocks"/>
/// picks the variant.
/// </summary>
internal sealed class UpBlock : IUpBlock
{
    private readonly List<(ResnetBlock Resnet, AttentionBlock? Attention)> _layers = [];
    private readonly Conv2dLayer? _upConv;
    private readonly ResnetBlock? _upResnet;

    /// <summary>
    /// Takes the block's weights under <paramref name="prefix"/>: <paramref name="prevOut"/> channels come from below,
    /// <paramref name="cin"/> from the down block's input at this level.
    /// </summary>
    public UpBlock(ModelWeights w, string prefix, UNetConfig c, int prevOut, int cout, int cin, bool attention, Upsampler upsampler)
    {
        int n = c.LayersPerBlock + 1;
        for (int j = 0; j < n; j++)
        {
            int resIn = (j == 0 ? prevOut : cout) + (j == n - 1 ? cin : cout);
            var r = new ResnetBlock(w, $"{prefix}.resnets.{j}", c, resIn, cout);
            var a = attention ? new AttentionBlock(w, $"{prefix}.attentions.{j}", cout, c.AttentionHeadDim ?? cout, c.NormNumGroups, c.NormEps) : null;
            _layers.Add((r, a));
        }
        if (upsampler == Upsampler.Resnet) _upResnet = new ResnetBlock(w, $"{prefix}.upsamplers.0", c, cout, cout, resample: ResnetResample.Up);
        else if (upsampler == Upsampler.Conv) _upConv = new Conv2dLayer(w, $"{prefix}.upsamplers.0.conv", cout, cout, 3, padding: 1);
    }

    /// <inheritdoc/>
    public IEnumerable<ResnetBlock> Resnets => [.. _layers.Select(l => l.Resnet), .. _upResnet is null ? [] : new[] { _upResnet }];

    /// <inheritdoc/>
    public PlanValue Emit(BlockPass pass, string prefix, PlanValue h)
    {
        var pb = pass.Builder;
        var skips = pass.Residuals;
        int j = 0;
        foreach (var (r, a) in _layers)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            h = r.EmitOfConcat(pb, $"{prefix}.cat{j++}", h, skip, pass.TimeEmbedding, pass.Fusions.ConcatInReaders);
            if (a is not null) h = a.Emit(pb, h, pass.Fusions);
        }
        if (_upConv is not null)
        {
            h = pass.Fusions.UpsampleInConv
                ? _upConv.EmitOfUpsampled(pb, prefix + ".upsamplers.0.conv", h)
                : _upConv.Emit(pb, prefix + ".upsamplers.0.conv", Resample.Up(pb, prefix + ".upsamplers.0.nearest", h));
        }
        if (_upResnet is not null) h = _upResnet.Emit(pb, h, pass.TimeEmbedding);
        return h;
    }
}
