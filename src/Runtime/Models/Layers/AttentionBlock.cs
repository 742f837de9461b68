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
    private readonly Tensor _qkvWeight, _qkvBias;
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
        // to_q, to_k, to_v stacked for one GEMM ([3, inner, C] and [3, inner]): a copy beside the per-layer weights,
        // which the unfused path still reads; freed with the weights.
        _qkvWeight = w.Constant([.. _q.Weight.ToArray(), .. _k.Weight.ToArray(), .. _v.Weight.ToArray()], 3, inner, channels);
        _qkvBias = w.Constant([.. _q.Bias.ToArray(), .. _k.Bias.ToArray(), .. _v.Bias.ToArray()], 3, inner);
        _scale = 1f / MathF.Sqrt(d);
        _outputScale = 1f / rescaleOutputFactor;
    }

    /// <summary>
    /// Emits the block; with <see cref="UNetFusions.StackedQkv"/> q, k and v are one step, with
    /// <see cref="UNetFusions.OutProjectionToNchw"/> the out-projection, transpose and residual are one.
    /// </summary>
    public PlanValue Emit(PlanBuilder pb, PlanValue x, UNetFusions fusions)
    {
        var b = pb.Backend;
        int n = x.Shape[0], c = x.Shape[1], tokens = x.Shape[2] * x.Shape[3];
        PlanValue seq;
        if (_norm is not null && fusions.NormToTokens)
        {
            // The norm writes the token sequence itself: no NCHW copy of the normed map, no transpose step.
            seq = _norm.EmitToTokens(pb, _prefix + ".group_norm", x);
        }
        else
        {
            var normed = _norm?.Emit(pb, _prefix + ".group_norm", x) ?? x;
            seq = pb.Value(_prefix + ".tokens", n, tokens, c);
            pb.Step(_prefix + ".tokens", [normed, seq], t => b.NchwToTokens(t[0], t[1]));
        }
        int inner = _qkvBias.Shape[1];
        var a = pb.Value(_prefix + ".sdpa", n, tokens, inner);
        double sdpaFlops = 4.0 * n * tokens * tokens * inner;
        if (fusions.StackedQkv)
        {
            // [3, N·T, inner]: q, k and v are its three contiguous thirds, read as views by the attention step.
            var qkv = pb.Value(_prefix + ".to_qkv", 3, n * tokens, inner);
            pb.Step(_prefix + ".to_qkv", [seq, qkv], t => b.StackedLinear(t[0], _qkvWeight, _qkvBias, t[1]), 2.0 * 3 * n * tokens * c * inner);
            var third = new Shape(n, tokens, inner);
            pb.Step(_prefix + ".sdpa", [qkv, a], t =>
            {
                using var q = t[0].View(third);
                using var k = t[0].View(third, third.Length);
                using var v = t[0].View(third, 2 * third.Length);
                b.Attention(q, k, v, t[1], _heads, _scale);
            }, sdpaFlops);
        }
        else
        {
            var q = _q.Emit(pb, _prefix + ".to_q", seq);
            var k = _k.Emit(pb, _prefix + ".to_k", seq);
            var v = _v.Emit(pb, _prefix + ".to_v", seq);
            pb.Step(_prefix + ".sdpa", [q, k, v, a], t => b.Attention(t[0], t[1], t[2], t[3], _heads, _scale), sdpaFlops);
        }
        var y = pb.Value(_prefix + ".out", x.Shape.ToArray());
        if (fusions.OutProjectionToNchw)
        {
            // to_out.0 writes the feature map, adds the residual and scales in its epilogue: no token-layout output.
            pb.Step(_prefix + ".to_out.0", [a, x, y], t => b.LinearToNchw(t[0], _out.Weight, _out.Bias, t[2], t[1], _outputScale), 2.0 * n * tokens * inner * c);
        }
        else
        {
            var o = _out.Emit(pb, _prefix + ".to_out.0", a);
            pb.Step(_prefix + ".out", [o, x, y], t => b.TokensToNchw(t[0], t[2], t[1], _outputScale));
        }
        return y;
    }
}
