using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// SkipDownBlock2D / AttnSkipDownBlock2D (score-SDE / NCSN++): resnets with GroupNorm groups min(ch/4, 32) and
/// output scale √2, each optionally followed by attention (32 groups, rescale √2); when downsampling, a resnet
/// with FIR downsampling and a 1×1 conv_shortcut, plus skip_conv (1×1, 3 → out) of the FIR-downsampled image.
/// diffusers hard-wires these; norm_num_groups, downsample_padding and downsample_type do not apply.
/// </summary>
internal sealed class SkipDownBlock : IDownBlock
{
    /// <summary>diffusers' output_scale_factor for every skip block: np.sqrt(2.0), rounded to float32 once.</summary>
    public static readonly float OutputScale = (float)Math.Sqrt(2.0);

    private readonly List<(ResnetBlock Resnet, AttentionBlock? Attention)> _layers = [];
    private readonly ResnetBlock? _resnetDown;
    private readonly FirResampler? _fir;
    private readonly Conv2dLayer? _skipConv;

    /// <summary>Takes the block's weights under <paramref name="prefix"/>; <paramref name="type"/> names the block in errors.</summary>
    public SkipDownBlock(ModelWeights w, string prefix, string type, UNetConfig c, int cin, int cout, bool attention, bool addDownsample)
    {
        for (int j = 0; j < c.LayersPerBlock; j++)
        {
            int rin = j == 0 ? cin : cout;
            var r = new ResnetBlock(w, $"{prefix}.resnets.{j}", c, rin, cout, OutputScale, groups: Groups(rin), groupsOut: Groups(cout));
            var a = attention ? new AttentionBlock(w, $"{prefix}.attentions.{j}", cout, c.AttentionHeadDim ?? cout, 32, c.NormEps, OutputScale) : null;
            _layers.Add((r, a));
        }
        if (!addDownsample) return;
        _resnetDown = new ResnetBlock(w, $"{prefix}.resnet_down", c, cout, cout, OutputScale, ResnetResample.FirDown,
            groups: Groups(cout), inShortcut: true);
        _fir = new FirResampler(w);
        // diffusers builds skip_conv as Conv2d(3, out, 1): the image path must have 3 channels.
        if (c.InChannels != 3)
            throw new ModelFormatException($"{w.Origin}: {prefix} ({type}) adds a 3-channel skip_conv of the input image, but in_channels is {c.InChannels} (diffusers hard-wires 3)");
        _skipConv = new Conv2dLayer(w, $"{prefix}.skip_conv", 3, cout, 1);
    }

    /// <summary>GroupNorm groups of the skip blocks: min(channels / 4, 32).</summary>
    public static int Groups(int channels) => Math.Min(channels / 4, 32);

    /// <inheritdoc/>
    public IEnumerable<ResnetBlock> Resnets => [.. _layers.Select(l => l.Resnet), .. _resnetDown is null ? [] : new[] { _resnetDown }];

    /// <inheritdoc/>
    public PlanValue Emit(BlockPass pass, string prefix, PlanValue h)
    {
        var pb = pass.Builder;
        var tembAct = pass.TimeEmbedding;
        var skips = pass.Residuals;
        foreach (var (r, a) in _layers)
        {
            h = r.Emit(pb, h, tembAct);
            if (a is not null) h = a.Emit(pb, h, pass.Fusions);
            skips.Add(h);
        }
        if (_resnetDown is null) return h;
        h = _resnetDown.Emit(pb, h, tembAct);
        var path = ScoreSdeSkipPath.Of(pass);
        var image = path.Image;
        if (image.Shape[2] != 2 * h.Shape[2] || image.Shape[3] != 2 * h.Shape[3])
            throw new ModelFormatException($"unet: {prefix}: the image skip path {image.Shape} is not at twice the resolution of {h.Shape}; every block above a skip down block must be a skip block too (diffusers fails the same way)");
        var down = _fir!.Down(pb, prefix + ".downsamplers.0", image);
        path.Image = down;
        h = _skipConv!.Emit(pb, prefix + ".skip_conv", down, residual: h);
        skips.Add(h);
        return h;
    }
}
