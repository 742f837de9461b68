using DiffusionKernels.Runtime;

namespace DiffusionKernels.Bench.Cases;

/// <summary>Multi-head attention o = softmax(q·kᵀ/√d)·v; 4·B·T·S·C flops (two matmuls), q, k, v, o traffic.</summary>
public sealed class AttentionCase(int batch, int queries, int keys, int channels, int heads, string where) : OpCase
{
    private Tensor _q = null!, _k = null!, _v = null!, _o = null!;

    public static IEnumerable<OpCase> Sizes() =>
    [
        new AttentionCase(8, 256, 256, 256, 1, "CIFAR 16×16"),
        new AttentionCase(8, 16, 16, 256, 1, "CIFAR mid 4×4"),
        new AttentionCase(1, 4096, 4096, 128, 1, "64×64"),
        new AttentionCase(1, 4096, 4096, 128, 4, "64×64"),
    ];

    public override string Name => $"attention [{batch},{queries},{channels}] kv {keys} {heads}h ({where})";
    public override double Flops => 4.0 * batch * queries * keys * channels;
    public override double Bytes => 4.0 * batch * channels * (2.0 * queries + 2.0 * keys);

    protected override void Prepare()
    {
        _q = Random(batch, queries, channels);
        _k = Random(batch, keys, channels);
        _v = Random(batch, keys, channels);
        _o = Zeros(batch, queries, channels);
    }

    public override void Run() => Backend.Attention(_q, _k, _v, _o, heads, 1f / MathF.Sqrt(channels / heads));
}

/// <summary>Feature map → tokens, [N, C, H, W] → [N, H·W, C]; memory-bound.</summary>
public sealed class NchwToTokensCase(int n, int c, int h, int w) : OpCase
{
    private Tensor _x = null!, _y = null!;

    public static IEnumerable<OpCase> Sizes() => [new NchwToTokensCase(8, 256, 16, 16), new NchwToTokensCase(1, 128, 64, 64), new NchwToTokensCase(8, 512, 32, 32)];

    public override string Name => $"nchw→tokens [{n},{c},{h},{w}]";
    public override double Flops => 0;
    public override double Bytes => 2.0 * 4 * n * c * h * w;

    protected override void Prepare()
    {
        _x = Random(n, c, h, w);
        _y = Zeros(n, h * w, c);
    }

    public override void Run() => Backend.NchwToTokens(_x, _y);
}

/// <summary>Tokens → feature map with the residual add and output scale fused; memory-bound.</summary>
public sealed class TokensToNchwCase(int n, int c, int h, int w) : OpCase
{
    private Tensor _x = null!, _y = null!, _r = null!;

    public static IEnumerable<OpCase> Sizes() => [new TokensToNchwCase(8, 256, 16, 16), new TokensToNchwCase(1, 128, 64, 64), new TokensToNchwCase(8, 512, 32, 32)];

    public override string Name => $"tokens→nchw +res [{n},{c},{h},{w}]";
    public override double Flops => 2.0 * n * c * h * w;
    public override double Bytes => 3.0 * 4 * n * c * h * w;

    protected override void Prepare()
    {
        _x = Random(n, h * w, c);
        _r = Random(n, c, h, w);
        _y = Zeros(n, c, h, w);
    }

    public override void Run() => Backend.TokensToNchw(_x, _y, _r, 0.7071f);
}

/// <summary>Philox4x32-10 standard normal noise; Flops left at 0 (integer work), GB/s of the output.</summary>
public sealed class RandomNormalCase(int n, int c, int h, int w) : OpCase
{
    private Tensor _y = null!;

    public static IEnumerable<OpCase> Sizes() => [new RandomNormalCase(16, 3, 64, 64), new RandomNormalCase(8, 3, 32, 32), new RandomNormalCase(1, 3, 256, 256)];

    public override string Name => $"random normal [{n},{c},{h},{w}]";
    public override double Flops => 0;
    public override double Bytes => 4.0 * n * c * h * w;

    protected override void Prepare() => _y = Zeros(n, c, h, w);

    public override void Run() => Backend.RandomNormal(_y, 1234, 0, 0);
}
