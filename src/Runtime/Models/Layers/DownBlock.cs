using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>How a down block halves the resolution at its end (none in the last block).</summary>
internal enum Downsampler
{
    /// <summary>The last level: no downsampler.</summary>
    None,
    /// <summary>A stride-2 3×3 conv (diffusers' Downsample2D with use_conv).</summary>
    Conv,
    /// <summary>A resnet block with 2×2 average pooling (down=True).</summary>
    Resnet,
}

/// <summary>
/// DownBlock2D / AttnDownBlock2D / ResnetDownsampleBlock2D: resnets (each optionally followed by attention),
/// then an optional downsampler. Every output is pushed on the residual stack. <see cref="UNetBlocks"/> picks the
/// variant.
/// </summary>
internal sealed class DownBlock : IDownBlock
{
    private readonly List<(ResnetBlock Resnet, AttentionBlock? Attention)> _layers = [];
    private readonly Conv2dLayer? _downConv;
    private readonly ResnetBlock? _downResnet;

    /// <summary>Takes the block's weights under <paramref name="prefix"/>.</summary>
    public DownBlock(ModelWeights w, string prefix, UNetConfig c, int cin, int cout, bool attention, Downsampler downsampler)
    {
        for (int j = 0; j < c.LayersPerBlock; j++)
        {
            var r = new ResnetBlock(w, $"{prefix}.resnets.{j}", c, j == 0 ? cin : cout, cout);
            var a = attention ? new AttentionBlock(w, $"{prefix}.attentions.{j}", cout, c.AttentionHeadDim ?? cout, c.NormNumGroups, c.NormEps) : null;
            _layers.Add((r, a));
        }
        if (downsampler == Downsampler.Resnet) _downResnet = new ResnetBlock(w, $"{prefix}.downsamplers.0", c, cout, cout, resample: ResnetResample.Down);
        else if (downsampler == Downsampler.Conv) _downConv = new Conv2dLayer(w, $"{prefix}.downsamplers.0.conv", cout, cout, 3, stride: 2,
            padding: c.DownsamplePadding, extraPadBottomRight: c.DownsamplePadding == 0 ? 1 : 0);
    }

    /// <inheritdoc/>
    public IEnumerable<ResnetBlock> Resnets => [.. _layers.Select(l => l.Resnet), .. _downResnet is null ? [] : new[] { _downResnet }];

    /// <inheritdoc/>
    public PlanValue Emit(BlockPass pass, string prefix, PlanValue h)
    {
        var pb = pass.Builder;
        foreach (var (r, a) in _layers)
        {
            h = r.Emit(pb, h, pass.TimeEmbedding);
            if (a is not null) h = a.Emit(pb, h, pass.Fusions);
            pass.Residuals.Add(h);
        }
        if (_downConv is not null) { h = _downConv.Emit(pb, prefix + ".downsamplers.0.conv", h); pass.Residuals.Add(h); }
        if (_downResnet is not null) { h = _downResnet.Emit(pb, h, pass.TimeEmbedding); pass.Residuals.Add(h); }
        return h;
    }
}
