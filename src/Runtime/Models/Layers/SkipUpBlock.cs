using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// SkipUpBlock2D / AttnSkipUpBlock2D (score-SDE / NCSN++): layers_per_block + 1 resnets over cat([h, skip])
/// (output scale √2, groups min(in/4, 32) and min(out/4, 32)), one attention after them (Attn variant). The
/// output-space skip is FIR-upsampled whenever it exists (upsampler), and when the block upsamples it gains
/// skip_conv(SiLU(skip_norm(h))) (3×3, out → 3) before h goes through a FIR-upsampling resnet.
/// </summary>
internal sealed class SkipUpBlock : IUpBlock
{
    private readonly List<ResnetBlock> _resnets = [];
    private readonly AttentionBlock? _attention;
    private readonly FirResampler _fir;
    private readonly ResnetBlock? _resnetUp;
    private readonly GroupNormLayer? _skipNorm;
    private readonly Conv2dLayer? _skipConv;

    /// <summary>Takes the block's weights under <paramref name="prefix"/>; <paramref name="type"/> names the block in errors.</summary>
    public SkipUpBlock(ModelWeights w, string prefix, string type, UNetConfig c, int prevOut, int cout, int cin, bool attention, bool addUpsample)
    {
        int n = c.LayersPerBlock + 1;
        float s = SkipDownBlock.OutputScale;
        for (int j = 0; j < n; j++)
        {
            int resnetIn = j == 0 ? prevOut : cout, resSkip = j == n - 1 ? cin : cout;
            // diffusers' AttnSkipUpBlock2D computes min(resnet_in + res_skip // 4, 32) (operator precedence); kept.
            int groups = attention ? Math.Min(resnetIn + resSkip / 4, 32) : SkipDownBlock.Groups(resnetIn + resSkip);
            _resnets.Add(new ResnetBlock(w, $"{prefix}.resnets.{j}", c, resnetIn + resSkip, cout, s, groups: groups, groupsOut: SkipDownBlock.Groups(cout)));
        }
        if (attention) _attention = new AttentionBlock(w, $"{prefix}.attentions.0", cout, c.AttentionHeadDim ?? cout, 32, c.NormEps, s);
        _fir = new FirResampler(w);
        if (!addUpsample) return;
        int g = SkipDownBlock.Groups(cout);
        _resnetUp = new ResnetBlock(w, $"{prefix}.resnet_up", c, cout, cout, s, ResnetResample.FirUp, groups: g, groupsOut: g, inShortcut: true);
        // diffusers builds skip_conv as Conv2d(out, 3, 3): its result is added to conv_out's, so out_channels must be 3.
        if (c.OutChannels != 3)
            throw new ModelFormatException($"{w.Origin}: {prefix} ({type}) adds a 3-channel skip_conv to the output, but out_channels is {c.OutChannels} (diffusers hard-wires 3)");
        _skipConv = new Conv2dLayer(w, $"{prefix}.skip_conv", cout, 3, 3, padding: 1);
        _skipNorm = new GroupNormLayer(w, $"{prefix}.skip_norm", cout, g, c.NormEps);
    }

    /// <inheritdoc/>
    public IEnumerable<ResnetBlock> Resnets => [.. _resnets, .. _resnetUp is null ? [] : new[] { _resnetUp }];

    /// <inheritdoc/>
    public PlanValue Emit(BlockPass pass, string prefix, PlanValue h)
    {
        var pb = pass.Builder;
        var tembAct = pass.TimeEmbedding;
        var skips = pass.Residuals;
        var path = ScoreSdeSkipPath.Of(pass);
        var skipSample = path.Output;
        int j = 0;
        foreach (var r in _resnets)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            h = r.EmitOfConcat(pb, $"{prefix}.cat{j++}", h, skip, tembAct, pass.Fusions.ConcatInReaders);
        }
        if (_attention is not null) h = _attention.Emit(pb, h, pass.Fusions);
        if (skipSample is not null) path.Output = skipSample = _fir.Up(pb, prefix + ".upsampler", skipSample);
        if (_resnetUp is null) return h;
        if (skipSample is not null && (skipSample.Shape[2] != h.Shape[2] || skipSample.Shape[3] != h.Shape[3]))
            throw new ModelFormatException($"unet: {prefix}: the upsampled output skip {skipSample.Shape} does not match {h.Shape}; a plain up block sits between skip up blocks (diffusers fails the same way)");
        var act = _skipNorm!.Emit(pb, prefix + ".skip_norm", h, Activation.SiLU);
        path.Output = _skipConv!.Emit(pb, prefix + ".skip_conv", act, residual: skipSample);
        return _resnetUp.Emit(pb, h, tembAct);
    }
}
