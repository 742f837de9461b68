using DiffusionKernels.Runtime;

namespace DiffusionKernels.Bench.Cases;

/// <summary>Nearest ×2 upsampling as in every up block. Bytes = x read + y (4×) written.</summary>
public sealed class UpsampleCase(int n, int c, int h, int w) : OpCase
{
    private Tensor _x = null!, _y = null!;

    public static IEnumerable<OpCase> Sizes() => [new UpsampleCase(8, 256, 16, 16), new UpsampleCase(1, 256, 128, 128)];

    public override string Name => $"upsample2x {c}ch {h}×{w} b{n}";
    public override double Flops => 0;
    public override double Bytes => 4.0 * 5 * n * c * h * w;

    protected override void Prepare()
    {
        _x = Random(n, c, h, w);
        _y = Zeros(n, c, 2 * h, 2 * w);
    }

    public override void Run() => Backend.UpsampleNearest2x(_x, _y);
}

/// <summary>2×2 average pooling (the conv-free downsample). Bytes = x read + y (¼) written; 4 flops per output.</summary>
public sealed class AvgPoolCase(int n, int c, int h, int w) : OpCase
{
    private Tensor _x = null!, _y = null!;

    public static IEnumerable<OpCase> Sizes() => [new AvgPoolCase(8, 128, 32, 32), new AvgPoolCase(1, 128, 256, 256)];

    public override string Name => $"avgpool2x2 {c}ch {h}×{w} b{n}";
    public override double Flops => 4.0 * n * c * (h / 2) * (w / 2);
    public override double Bytes => 4.0 * (n * c * h * w + n * c * (h / 2) * (w / 2));

    protected override void Prepare()
    {
        _x = Random(n, c, h, w);
        _y = Zeros(n, c, h / 2, w / 2);
    }

    public override void Run() => Backend.AvgPool2x2(_x, _y);
}

/// <summary>The up path's skip concat. Bytes = both inputs read + the output written.</summary>
public sealed class ConcatCase(int n, int ca, int cb, int h, int w) : OpCase
{
    private Tensor _a = null!, _b = null!, _y = null!;

    public static IEnumerable<OpCase> Sizes() => [new ConcatCase(8, 256, 128, 32, 32), new ConcatCase(1, 128, 128, 256, 256)];

    public override string Name => $"concat {ca}+{cb}ch {h}×{w} b{n}";
    public override double Flops => 0;
    public override double Bytes => 4.0 * 2 * n * (ca + cb) * h * w;

    protected override void Prepare()
    {
        _a = Random(n, ca, h, w);
        _b = Random(n, cb, h, w);
        _y = Zeros(n, ca + cb, h, w);
    }

    public override void Run() => Backend.ConcatChannels(_a, _b, _y);
}

/// <summary>
/// A sampler step's linear combination (e.g. DDIM/DPM-Solver: x, ε̂, x̂₀), output over the first term as samplers do.
/// Bytes = every term read + the output written; 2 flops per term and element.
/// </summary>
public sealed class LinearCombinationCase(int terms, bool perSample, int n, int c, int h, int w) : OpCase
{
    private Tensor[] _xs = null!;
    private float[] _coefficients = null!;

    public static IEnumerable<OpCase> Sizes() =>
    [
        new LinearCombinationCase(3, false, 16, 3, 64, 64),
        new LinearCombinationCase(3, true, 16, 3, 64, 64),
        new LinearCombinationCase(3, false, 8, 3, 32, 32),
        new LinearCombinationCase(3, false, 1, 4, 64, 64),
        new LinearCombinationCase(3, false, 1, 3, 256, 256),
    ];

    private long Elements => (long)n * c * h * w;
    public override string Name => $"lincomb {terms} terms{(perSample ? " per-sample" : "")} [{n},{c},{h},{w}]";
    public override double Flops => 2.0 * terms * Elements;
    public override double Bytes => 4.0 * (terms + 1) * Elements;

    protected override void Prepare()
    {
        _xs = Enumerable.Range(0, terms).Select(_ => Random(n, c, h, w)).ToArray();
        _coefficients = Enumerable.Range(0, perSample ? terms * n : terms).Select(i => 1f / (i + 2)).ToArray();
    }

    public override void Run() => Backend.LinearCombination(_xs[0], _xs, _coefficients);
}

/// <summary>Clamp in place (clip_sample / dynamic thresholding). Bytes = read + write.</summary>
public sealed class ClampCase(int n, int c, int h, int w) : OpCase
{
    private Tensor _x = null!;

    public static IEnumerable<OpCase> Sizes() => [new ClampCase(16, 3, 64, 64), new ClampCase(8, 128, 32, 32)];

    public override string Name => $"clamp [{n},{c},{h},{w}]";
    public override double Flops => 0;
    public override double Bytes => 4.0 * 2 * n * c * h * w;

    protected override void Prepare() => _x = Random(n, c, h, w);

    public override void Run() => Backend.Clamp(_x, -1f, 1f, _x);
}

/// <summary>Sinusoidal timestep embedding. Bytes = timesteps read + embedding written (launch-bound in practice).</summary>
public sealed class TimestepEmbeddingCase(int n, int dim) : OpCase
{
    private Tensor _t = null!, _y = null!;

    public static IEnumerable<OpCase> Sizes() => [new TimestepEmbeddingCase(16, 128)];

    public override string Name => $"timestep embedding [{n},{dim}]";
    public override double Flops => 0;
    public override double Bytes => 4.0 * (n + (long)n * dim);

    protected override void Prepare()
    {
        _t = Random(n);
        _y = Zeros(n, dim);
    }

    public override void Run() => Backend.TimestepEmbedding(_t, _y, false, 1f);
}
