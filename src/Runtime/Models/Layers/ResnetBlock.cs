using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// How a resnet block resamples both of its paths after norm1 (diffusers' up=True / down=True): nearest ×2 and
/// 2×2 average pooling by default, the (1, 3, 3, 1) FIR filter with kernel="fir" (score-SDE skip blocks).
/// </summary>
internal enum ResnetResample { None, Up, Down, FirUp, FirDown }

/// <summary>
/// diffusers ResnetBlock2D: h = conv1(act(norm1(x))); h += temb (default) or FiLM after norm2 (scale_shift);
/// h = conv2(act(norm2(h))); out = (shortcut(x) + h) / output_scale_factor — the residual and scale fused into conv2.
/// </summary>
internal sealed class ResnetBlock
{
    private readonly GroupNormLayer _norm1, _norm2;
    private readonly Conv2dLayer _conv1, _conv2;
    private readonly Conv2dLayer? _shortcut;
    private readonly LinearLayer _timeProj;
    private readonly bool _scaleShift;
    private readonly Activation _act;
    private readonly float _outputScale;
    private readonly ResnetResample _resample;
    private readonly FirResampler? _fir;
    private readonly string _prefix;

    /// <summary>
    /// Takes the block's weights under <paramref name="prefix"/>. norm1 has <paramref name="groups"/> groups (default
    /// norm_num_groups), norm2 <paramref name="groupsOut"/> (default: the same); <paramref name="inShortcut"/> is
    /// diffusers' use_in_shortcut, a 1×1 conv_shortcut even when cin == cout (null: only when they differ).
    /// </summary>
    public ResnetBlock(ModelWeights w, string prefix, UNetConfig c, int cin, int cout, float outputScaleFactor = 1f,
        ResnetResample resample = ResnetResample.None, int? groups = null, int? groupsOut = null, bool? inShortcut = null)
    {
        int g = groups ?? c.NormNumGroups ?? throw new ModelFormatException($"{w.Origin}: {prefix}: norm_num_groups is null");
        int g2 = groupsOut ?? g;
        _prefix = prefix;
        _norm1 = new GroupNormLayer(w, prefix + ".norm1", cin, g, c.NormEps);
        _conv1 = new Conv2dLayer(w, prefix + ".conv1", cin, cout, 3, padding: 1);
        _scaleShift = c.ResnetTimeScaleShift == "scale_shift";
        _timeProj = new LinearLayer(w, prefix + ".time_emb_proj", c.TimeEmbedDim, _scaleShift ? 2 * cout : cout);
        _norm2 = new GroupNormLayer(w, prefix + ".norm2", cout, g2, c.NormEps);
        _conv2 = new Conv2dLayer(w, prefix + ".conv2", cout, cout, 3, padding: 1);
        if (inShortcut ?? cin != cout) _shortcut = new Conv2dLayer(w, prefix + ".conv_shortcut", cin, cout, 1);
        if (resample is ResnetResample.FirUp or ResnetResample.FirDown) _fir = new FirResampler(w);
        _act = c.Activation;
        _outputScale = 1f / outputScaleFactor;
        _resample = resample;
    }

    /// <summary>The block's time_emb_proj, [T] → [C] ([2C] with scale_shift).</summary>
    public LinearLayer TimeProjection => _timeProj;

    /// <summary>True with resnet_time_scale_shift "scale_shift" (FiLM after norm2) rather than a bias after conv1.</summary>
    public bool ScaleShift => _scaleShift;

    /// <summary>Emits the block; <paramref name="temb"/> gives its time projection of act(temb), shared by every block.</summary>
    public PlanValue Emit(PlanBuilder pb, PlanValue x, TimeProjections temb)
    {
        var h = _norm1.Emit(pb, _prefix + ".norm1", x, _act);
        return EmitAfterNorm1(pb, x, h, temb, null);
    }

    /// <summary>
    /// Emits the block on cat(<paramref name="hidden"/>, <paramref name="skip"/>) (an up block's input). With
    /// <paramref name="inReaders"/> norm1 and conv_shortcut read the two in place and no concat is stored; otherwise (or
    /// when the block resamples or has no conv_shortcut, so the concat itself is read again) the concat is a step of
    /// its own, named <paramref name="catName"/>.
    /// </summary>
    public PlanValue EmitOfConcat(PlanBuilder pb, string catName, PlanValue hidden, PlanValue skip, TimeProjections temb, bool inReaders)
    {
        if (!inReaders || _resample != ResnetResample.None || _shortcut is null)
            return Emit(pb, Resample.Concat(pb, catName, hidden, skip), temb);
        var h = _norm1.EmitOfConcat(pb, _prefix + ".norm1", hidden, skip, _act);
        return EmitAfterNorm1(pb, hidden, h, temb, () => _shortcut.EmitOfConcat(pb, _prefix + ".conv_shortcut", hidden, skip));
    }

    /// <summary>Everything after norm1: <paramref name="shortcut"/> emits the shortcut path when it cannot read x alone.</summary>
    private PlanValue EmitAfterNorm1(PlanBuilder pb, PlanValue x, PlanValue h, TimeProjections temb, Func<PlanValue>? shortcut)
    {
        var b = pb.Backend;
        if (_resample == ResnetResample.Up) { x = Resample.Up(pb, _prefix + ".up_x", x); h = Resample.Up(pb, _prefix + ".up_h", h); }
        if (_resample == ResnetResample.Down) { x = Resample.Down(pb, _prefix + ".down_x", x); h = Resample.Down(pb, _prefix + ".down_h", h); }
        if (_resample == ResnetResample.FirUp) { x = _fir!.Up(pb, _prefix + ".fir_up_x", x); h = _fir.Up(pb, _prefix + ".fir_up_h", h); }
        if (_resample == ResnetResample.FirDown) { x = _fir!.Down(pb, _prefix + ".fir_down_x", x); h = _fir.Down(pb, _prefix + ".fir_down_h", h); }
        PlanValue normed;
        if (!_scaleShift && temb.BiasInConv)
        {
            // h = conv1(h) + temb[n, c] in one step: the projection is a per-sample bias of conv1's epilogue.
            var (t, offset) = temb.For(pb, _prefix + ".time_emb_proj", _timeProj);
            h = _conv1.Emit(pb, _prefix + ".conv1", h, t, offset);
            normed = _norm2.Emit(pb, _prefix + ".norm2", h, _act);
        }
        else if (_scaleShift)
        {
            h = _conv1.Emit(pb, _prefix + ".conv1", h);
            var t = _timeProj.Emit(pb, _prefix + ".time_emb_proj", temb.Activated);
            var n2 = _norm2.Emit(pb, _prefix + ".norm2", h);
            normed = pb.Value(_prefix + ".film", n2.Shape.ToArray());
            pb.Step(_prefix + ".film", [n2, t, normed], v => b.ScaleShift(v[0], v[1], v[2], _act));
        }
        else
        {
            h = _conv1.Emit(pb, _prefix + ".conv1", h);
            var (t, offset) = temb.For(pb, _prefix + ".time_emb_proj", _timeProj);
            var ht = pb.Value(_prefix + ".add_temb", h.Shape.ToArray());
            pb.Step(_prefix + ".add_temb", [h, t, ht], v => b.AddChannelBias(v[0], v[1], offset, v[2]));
            normed = _norm2.Emit(pb, _prefix + ".norm2", ht, _act);
        }
        var residual = shortcut?.Invoke() ?? _shortcut?.Emit(pb, _prefix + ".conv_shortcut", x) ?? x;
        return _conv2.Emit(pb, _prefix + ".conv2", normed, residual, _outputScale);
    }
}
