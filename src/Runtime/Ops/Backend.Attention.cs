namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// Multi-head scaled dot-product attention, o = softmax(q·kᵀ·scale)·v per head, with a numerically
    /// stable softmax. q [B, T, C], k and v [B, S, C], o [B, T, C]; head h uses channels [h·d, (h+1)·d)
    /// with d = C / heads.
    /// </summary>
    public void Attention(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale)
    {
        const string op = "attention";
        Check.Owned(this, op, q, k, v, o);
        Check.Float(op, (q, "query"), (k, "key"), (v, "value"), (o, "output"));
        Check.Rank(op, q, 3, "query");
        Check.Rank(op, k, 3, "key");
        int b = q.Shape[0], t = q.Shape[1], c = q.Shape[2];
        if (heads < 1 || c % heads != 0) throw new ArgumentException($"{op}: {heads} heads do not divide the {c} channels of query {q.Shape}");
        if (k.Shape[0] != b || k.Shape[2] != c) throw new ShapeMismatchException($"{op}: query {q.Shape} and key {k.Shape} disagree in batch or channels");
        Check.Same(op, k, "key", v, "value");
        Check.Same(op, q, "query", o, "output");
        AttentionCore(q, k, v, o, heads, scale);
    }

    /// <summary>Feature map to token sequence: x [N, C, H, W] → y [N, H·W, C] (token = i·W + j).</summary>
    public void NchwToTokens(Tensor x, Tensor y)
    {
        const string op = "nchw to tokens";
        Check.Owned(this, op, x, y);
        Check.Float(op, (x, "input"), (y, "output"));
        Check.Rank(op, x, 4, "input");
        Check.Shape(op, y, $"output (input {x.Shape})", x.Shape[0], x.Shape[2] * x.Shape[3], x.Shape[1]);
        NchwToTokensCore(x, y);
    }

    /// <summary>
    /// Token sequence back to a feature map with an optional fused residual:
    /// y [N, C, H, W] = (tokensᵀ + residual) · outputScale, x [N, H·W, C].
    /// </summary>
    public void TokensToNchw(Tensor x, Tensor y, Tensor? residual = null, float outputScale = 1f)
    {
        const string op = "tokens to nchw";
        Check.Owned(this, op, x, y, residual);
        Check.Float(op, (x, "input"), (y, "output"), (residual, "residual"));
        Check.Rank(op, y, 4, "output");
        Check.Shape(op, x, $"input (output {y.Shape})", y.Shape[0], y.Shape[2] * y.Shape[3], y.Shape[1]);
        if (residual is not null) Check.Same(op, residual, "residual", y, "output");
        TokensToNchwCore(x, y, residual, outputScale);
    }

    /// <summary>
    /// Standard normal noise from Philox4x32-10. Element i of sample n is drawn from stream position
    /// offset + i of sample firstSampleIndex + n under key <paramref name="seed"/> (the exact lane mapping is in
    /// <see cref="DiffusionKernels.Kernels.Philox"/>), so the same seed gives bit-identical noise on every backend
    /// and for any batch split. y [N, ...].
    /// </summary>
    public void RandomNormal(Tensor y, ulong seed, long firstSampleIndex = 0, ulong offset = 0)
    {
        const string op = "random normal";
        Check.Owned(this, op, y);
        Check.Float(op, (y, "output"));
        if (firstSampleIndex < 0) throw new ArgumentOutOfRangeException(nameof(firstSampleIndex), $"{op}: sample index must be ≥ 0");
        RandomNormalCore(y, seed, firstSampleIndex, offset);
    }

    protected abstract void AttentionCore(Tensor q, Tensor k, Tensor v, Tensor o, int heads, float scale);
    protected abstract void NchwToTokensCore(Tensor x, Tensor y);
    protected abstract void TokensToNchwCore(Tensor x, Tensor y, Tensor? residual, float outputScale);
    protected abstract void RandomNormalCore(Tensor y, ulong seed, long firstSampleIndex, ulong offset);
}
