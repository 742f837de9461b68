using DiffusionKernels.Runtime;

namespace DiffusionKernels.Bench.Cases;

/// <summary>Conv2d (+ bias) at the sizes of a 32×32 (DDPM CIFAR-10) and a 256×256 U-Net.</summary>
public sealed class Conv2dCase(int batch, int cin, int cout, int size, int kernel, int stride = 1) : OpCase
{
    private readonly int _padding = kernel / 2;
    private Tensor _x = null!, _w = null!, _bias = null!, _y = null!;

    private int OutSize => (size + 2 * _padding - kernel) / stride + 1;

    public static IEnumerable<OpCase> Sizes() =>
    [
        new Conv2dCase(8, 128, 128, 32, 3),
        new Conv2dCase(8, 256, 256, 16, 3),
        new Conv2dCase(8, 3, 128, 32, 3),
        new Conv2dCase(8, 256, 128, 32, 1),
        new Conv2dCase(8, 128, 128, 32, 3, stride: 2),
        new Conv2dCase(1, 128, 128, 256, 3),
        new Conv2dCase(1, 128, 128, 64, 3),
        new Conv2dCase(1, 256, 256, 64, 3),
    ];

    public override string Name =>
        $"conv{kernel}x{kernel}{(stride > 1 ? $" s{stride}" : "")} {cin}→{cout} {size}×{size}{(stride > 1 ? $"→{OutSize}" : "")} b{batch}";

    public override double Flops => 2.0 * batch * cout * OutSize * OutSize * cin * kernel * kernel;

    public override double Bytes =>
        4.0 * ((double)batch * cin * size * size + (double)cout * cin * kernel * kernel + cout + (double)batch * cout * OutSize * OutSize);

    protected override void Prepare()
    {
        _x = Random(batch, cin, size, size);
        _w = Random(cout, cin, kernel, kernel);
        _bias = Random(cout);
        _y = Zeros(batch, cout, OutSize, OutSize);
    }

    public override void Run() => Backend.Conv2d(_x, _w, _bias, _y, stride, _padding);
}
