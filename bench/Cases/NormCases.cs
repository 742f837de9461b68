using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime;

namespace DiffusionKernels.Bench.Cases;

/// <summary>Group norm (+ SiLU) as in every ResNet block. Memory-bound: Bytes = x read once + y written + γ, β.</summary>
public sealed class GroupNormCase(int n, int c, int h, int w, int groups) : OpCase
{
    private Tensor _x = null!, _gamma = null!, _beta = null!, _y = null!;
    private long Elements => (long)n * c * h * w;

    public static IEnumerable<OpCase> Sizes() =>
    [
        new GroupNormCase(8, 128, 32, 32, 32),
        new GroupNormCase(8, 256, 16, 16, 32),
        new GroupNormCase(1, 128, 256, 256, 32),
    ];

    public override string Name => $"groupnorm+silu {c}ch G{groups} {h}×{w} b{n}";
    public override double Flops => 0;
    public override double Bytes => 4.0 * (2 * Elements + 2 * c);

    protected override void Prepare()
    {
        _x = Random(n, c, h, w);
        _gamma = Random(c);
        _beta = Random(c);
        _y = Zeros(n, c, h, w);
    }

    public override void Run() => Backend.GroupNorm(_x, _gamma, _beta, _y, groups, 1e-6f, Activation.SiLU);
}

/// <summary>An element-wise activation out of place. Bytes = read + write.</summary>
public sealed class ActivationCase(Activation activation, int n, int c, int h, int w) : OpCase
{
    private Tensor _x = null!, _y = null!;

    public static IEnumerable<OpCase> Sizes() =>
    [
        new ActivationCase(Activation.SiLU, 8, 128, 32, 32),
        new ActivationCase(Activation.GeluExact, 8, 128, 32, 32),
    ];

    public override string Name => $"activation {activation} 128ch {h}×{w} b{n}";
    public override double Flops => 0;
    public override double Bytes => 4.0 * 2 * n * c * h * w;

    protected override void Prepare()
    {
        _x = Random(n, c, h, w);
        _y = Zeros(n, c, h, w);
    }

    public override void Run() => Backend.Activate(_x, _y, activation);
}

/// <summary>FiLM scale/shift + SiLU, and the time-embedding bias add. Bytes = x read + y written + the per-channel values.</summary>
public sealed class ChannelOpCase(bool scaleShift, int n, int c, int h, int w) : OpCase
{
    private Tensor _x = null!, _p = null!, _y = null!;

    public static IEnumerable<OpCase> Sizes() =>
    [
        new ChannelOpCase(true, 8, 128, 32, 32),
        new ChannelOpCase(false, 8, 128, 32, 32),
    ];

    public override string Name => $"{(scaleShift ? "scale shift+silu" : "add channel bias")} {c}ch {h}×{w} b{n}";
    public override double Flops => 0;
    public override double Bytes => 4.0 * (2.0 * n * c * h * w + (scaleShift ? 2 : 1) * n * c);

    protected override void Prepare()
    {
        _x = Random(n, c, h, w);
        _p = scaleShift ? Random(n, 2 * c) : Random(n, c);
        _y = Zeros(n, c, h, w);
    }

    public override void Run()
    {
        if (scaleShift) Backend.ScaleShift(_x, _p, _y, Activation.SiLU);
        else Backend.AddChannelBias(_x, _p, _y);
    }
}

/// <summary>Per-sample reductions (sampler diagnostics) over a batch of 64×64 RGB images. Bytes = x read once.</summary>
public sealed class ReduceCase(Reduction kind) : OpCase
{
    private const int N = 16, C = 3, H = 64, W = 64;
    private Tensor _x = null!, _r = null!;

    public static IEnumerable<OpCase> Sizes() => Enum.GetValues<Reduction>().Select(k => (OpCase)new ReduceCase(k));

    public override string Name => $"reduce {kind} {C}×{H}×{W} b{N}";
    public override double Flops => 0;
    public override double Bytes => 4.0 * ((double)N * C * H * W + N);

    protected override void Prepare()
    {
        _x = Random(N, C, H, W);
        _r = Zeros(N);
    }

    public override void Run() => Backend.Reduce(_x, _r, kind);
}
