using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models.Layers;

namespace DiffusionKernels.Bench.Cases;

/// <summary>
/// FIR resampling of the score-SDE skip blocks (upfirdn2d, (1, 3, 3, 1) filter, factor 2). Down: 16 taps per
/// output; up: 4 non-zero taps per output. Flops count those multiply-adds; Bytes = x read + y written.
/// </summary>
public sealed class UpFirDn2dCase(bool up, int n, int c, int h, int w) : OpCase
{
    private Tensor _x = null!, _k = null!, _y = null!;

    public static IEnumerable<OpCase> Sizes() =>
    [
        new UpFirDn2dCase(false, 8, 128, 32, 32), new UpFirDn2dCase(true, 8, 128, 16, 16),
        new UpFirDn2dCase(false, 1, 128, 256, 256), new UpFirDn2dCase(true, 1, 128, 128, 128),
    ];

    private int OutH => up ? 2 * h : h / 2;
    private int OutW => up ? 2 * w : w / 2;

    public override string Name => $"fir {(up ? "up" : "down")}2x {c}ch {h}×{w} b{n}";
    public override double Flops => 2.0 * n * c * OutH * OutW * (up ? 4 : 16);
    public override double Bytes => 4.0 * n * c * (h * w + OutH * OutW);

    protected override void Prepare()
    {
        _x = Random(n, c, h, w);
        _k = Zeros(4, 4);
        Backend.CopyFromHost(FirResampler.Kernel(up ? 4f : 1f), _k);
        _y = Zeros(n, c, OutH, OutW);
    }

    public override void Run()
    {
        if (up) Backend.UpFirDn2d(_x, _k, _y, 2, 1, 2, 1);
        else Backend.UpFirDn2d(_x, _k, _y, 1, 2, 1, 1);
    }
}
