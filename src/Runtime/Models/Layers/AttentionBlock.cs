using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// diffusers spatial self-attention (Attention with residual_connection): optional GroupNorm, tokens,
/// to_q/to_k/to_v, softmax(q·kᵀ/√d)·v per head, to_out.0, back to NCHW with the residual added and
/// divided by rescale_output_factor in one step.
/// </summary>
internal sealed class AttentionBlock
{
    private readonly GroupNormLayer? _norm;
    private readonly LinearLayer _q, _k, _v, _out;
    private readonly int _heads;
    private readonly float _scale, _outputScale;
    private readonly string _prefix;

    public AttentionBlock(ModelWeights w, string prefix, int channels, int? headDim, int? groups, float eps, float rescaleOutputFactor = 1f)
    {
        _prefix = prefix;
        int d = headDim ?? channels;
        if (d < 1 || d > channels)
            throw new ModelFormatException($"{w.Origin}: {prefix}: attention_head_dim {d} must be in [1, {channels}] for {channels} channels");
        _heads = channels / d;
        int inner = _heads * d;
        if (groups is { } g) _norm = new GroupNormLayer(w, prefix + ".group_norm", channels, g, eps);
        _q = new LinearLayer(w, prefix + ".to_q", channels, inner);
        _k = new LinearLayer(w, prefix + ".to_k", channels, inner);
        _v = new LinearLayer(w, prefix + ".to_v", channels, inner);
        _out = new LinearLayer(w, prefix + ".to_out.0", inner, channels);
        _scale = 1f / MathF.Sqrt(d);
        _outputScale = 1f / rescaleOutputFactor;
    }

    public PlanValue Emit(PlanBuilder pb, PlanValue x)
    {
        var b = pb.Backend;
        int n = x.Shape[0], c = x.Shape[1], tokens = x.Shape[2] * x.Shape[3];
        var normed = _norm?.Emit(pb, _prefix + ".group_norm", x) ?? x;
        var seq = pb.Value(_prefix + ".tokens", n, tokens, c);
        pb.Step(_prefix + ".tokens", [normed, seq], t => b.NchwToTokens(t[0], t[1]));
        var q = _q.Emit(pb, _prefix + ".to_q", seq);
        var k = _k.Emit(pb, _prefix + ".to_k", seq);
        var v = _v.Emit(pb, _prefix + ".to_v", seq);
        var a = pb.Value(_prefix + ".sdpa", q.Shape.ToArray());
        pb.Step(_prefix + ".sdpa", [q, k, v, a], t => b.Attention(t[0], t[1], t[2], t[3], _heads, _scale), 4.0 * n * tokens * tokens * q.Shape[2]);
        var o = _out.Emit(pb, _prefix + ".to_out.0", a);
        var y = pb.Value(_prefix + ".out", x.Shape.ToArray());
        pb.Step(_prefix + ".out", [o, x, y], t => b.TokensToNchw(t[0], t[2], t[1], _outputScale));
        return y;
    }
}
