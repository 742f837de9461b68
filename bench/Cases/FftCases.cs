using DiffusionKernels.Runtime;

namespace DiffusionKernels.Bench.Cases;

/// <summary>
/// Orthonormal 2-D complex FFT of B planes (separate real/imaginary tensors), as in the MRI operator's forward and
/// adjoint. Flops = the conventional 5·N·log2(N) per N-point complex transform (also quoted for non-powers of two,
/// which run mixed radix or Bluestein, so their GFLOP/s is nominal); Bytes = read and write both parts once. 320 and
/// 368 (fastMRI sizes) sit between 256 and 512 so their cost can be read against the powers of two around them.
/// </summary>
public sealed class Fft2dCase(int b, int h, int w) : OpCase
{
    private Tensor _re = null!, _im = null!, _outRe = null!, _outIm = null!;
    private long Points => (long)h * w;

    public static IEnumerable<OpCase> Sizes() =>
    [
        new Fft2dCase(8, 32, 32),
        new Fft2dCase(8, 128, 128),
        new Fft2dCase(1, 256, 256),
        new Fft2dCase(8, 256, 256),
        new Fft2dCase(1, 320, 320),
        new Fft2dCase(1, 368, 368),
        new Fft2dCase(1, 512, 512),
        new Fft2dCase(1, 509, 509),
    ];

    public override string Name => $"fft2d complex {h}×{w} b{b}";
    public override double Flops => 5.0 * b * Points * Math.Log2(Points);
    public override double Bytes => 4.0 * 4 * b * Points;

    protected override void Prepare()
    {
        _re = Random(b, 1, h, w);
        _im = Random(b, 1, h, w);
        _outRe = Zeros(b, 1, h, w);
        _outIm = Zeros(b, 1, h, w);
    }

    public override void Run() => Backend.Fft2d(_re, _im, _outRe, _outIm, inverse: false);
}
