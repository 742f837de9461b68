using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime;

namespace DiffusionKernels.Bench.Cases;

/// <summary>nn.Linear y = act(x·wᵀ + b) at U-Net sizes; the 512³ case is the plain SGEMM yardstick.</summary>
public sealed class LinearCase(string label, int m, int n, int k, bool bias, Activation activation) : OpCase
{
    private Tensor _x = null!, _w = null!, _y = null!;
    private Tensor? _b;

    public static IEnumerable<OpCase> Sizes() =>
    [
        new LinearCase("sgemm", 512, 512, 512, false, Activation.Identity),
        new LinearCase("time embedding b8", 8, 512, 512, true, Activation.SiLU),
        new LinearCase("attn proj 16×16 c256 b8", 8 * 256, 256, 256, true, Activation.Identity),
        new LinearCase("attn proj 64×64 c128 b1", 4096, 128, 128, true, Activation.Identity),
    ];

    public override string Name => $"linear {m}×{n}×{k} {label}";
    public override double Flops => 2.0 * m * n * k;
    public override double Bytes => 4.0 * ((double)m * k + (double)n * k + (double)m * n + (bias ? n : 0));

    protected override void Prepare()
    {
        _x = Random(m, k);
        _w = Random(n, k);
        _b = bias ? Random(n) : null;
        _y = Zeros(m, n);
    }

    public override void Run() => Backend.Linear(_x, _w, _b, _y, activation);
}

/// <summary>Batched matmul of attention: scores Q·Kᵀ (transposed B, scaled) and probabilities·V.</summary>
public sealed class BatchedMatMulCase(string label, int batch, int m, int n, int k, bool transposeB, float alpha) : OpCase
{
    private Tensor _a = null!, _b = null!, _c = null!;

    public static IEnumerable<OpCase> Sizes() =>
    [
        new BatchedMatMulCase("scores Q·Kᵀ 16×16 c256", 8, 256, 256, 256, true, 1f / 16),
        new BatchedMatMulCase("probs·V 16×16 c256", 8, 256, 256, 256, false, 1f),
        new BatchedMatMulCase("scores Q·Kᵀ 32×32 c128", 8, 1024, 1024, 128, true, 1f / MathF.Sqrt(128)),
    ];

    public override string Name => $"bmm b{batch} {m}×{n}×{k} {label}";
    public override double Flops => 2.0 * batch * m * n * k;
    public override double Bytes => 4.0 * batch * ((double)m * k + (double)n * k + (double)m * n);

    protected override void Prepare()
    {
        _a = Random(batch, m, k);
        _b = transposeB ? Random(batch, n, k) : Random(batch, k, n);
        _c = Zeros(batch, m, n);
    }

    public override void Run() => Backend.BatchedMatMul(_a, _b, _c, transposeB, alpha);
}
