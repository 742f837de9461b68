using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// diffusers' FirDownsample2D(use_conv=True): the (1, 3, 3, 1) filter with the padding widened for the conv
/// (p = (4 − 2) + (3 − 1) = 4, pads (2, 2)), then Conv2d_0 (3×3) with stride 2 and no padding, plus its bias.
/// No UNet2DModel block builds it; it completes the FIR family for score-SDE style checkpoints.
/// </summary>
internal sealed class FirDownsampleConv
{
    private readonly Tensor _filter, _weight, _bias;
    private readonly int _outChannels;

    public FirDownsampleConv(ModelWeights w, string prefix, int channels, int outChannels)
    {
        _filter = w.Constant(FirResampler.Kernel(1f), 4, 4);
        _weight = w.Take(prefix + ".Conv2d_0.weight", outChannels, channels, 3, 3);
        _bias = w.Take(prefix + ".Conv2d_0.bias", outChannels);
        _outChannels = outChannels;
    }

    public PlanValue Emit(PlanBuilder pb, string name, PlanValue x)
    {
        var b = pb.Backend;
        int h = x.Shape[2], wd = x.Shape[3];
        var filtered = pb.Value(name + ".fir", x.Shape[0], x.Shape[1], h + 1, wd + 1);
        pb.Step(name + ".fir", [x, filtered], t => b.UpFirDn2d(t[0], _filter, t[1], 1, 1, 2, 2), 2.0 * filtered.Shape.Length * 16);
        int ho = (h + 1 - 3) / 2 + 1, wo = (wd + 1 - 3) / 2 + 1;
        var y = pb.Value(name + ".Conv2d_0", x.Shape[0], _outChannels, ho, wo);
        pb.Step(name + ".Conv2d_0", [filtered, y], t => b.Conv2d(t[0], _weight, _bias, t[1], stride: 2, padding: 0),
            2.0 * y.Shape.Length * x.Shape[1] * 9);
        return y;
    }
}

/// <summary>
/// diffusers' FirUpsample2D(use_conv=True): Conv2d_0 applied as a stride-2 transposed convolution (its weight
/// flipped and transposed, which equals a plain 3×3 conv of the original weight over the zero-inserted input
/// padded by 2), then the (1, 3, 3, 1) filter with gain 4 and pads (1, 1), then Conv2d_0's bias.
/// </summary>
internal sealed class FirUpsampleConv
{
    private readonly Tensor _identity, _filter, _weight, _bias;
    private readonly int _outChannels;

    public FirUpsampleConv(ModelWeights w, string prefix, int channels, int outChannels)
    {
        _identity = w.Constant([1f], 1, 1);
        _filter = w.Constant(FirResampler.Kernel(4f), 4, 4);
        _weight = w.Take(prefix + ".Conv2d_0.weight", outChannels, channels, 3, 3);
        _bias = w.Take(prefix + ".Conv2d_0.bias", outChannels);
        _outChannels = outChannels;
    }

    public PlanValue Emit(PlanBuilder pb, string name, PlanValue x)
    {
        var b = pb.Backend;
        int n = x.Shape[0], h = x.Shape[2], wd = x.Shape[3];
        // Zero insertion (2H, with the trailing zero) padded by k − 1 = 2 before and 1 after: the transposed conv's input.
        var dilated = pb.Value(name + ".dilate", n, x.Shape[1], 2 * h + 3, 2 * wd + 3);
        pb.Step(name + ".dilate", [x, dilated], t => b.UpFirDn2d(t[0], _identity, t[1], 2, 1, 2, 1));
        var conv = pb.Value(name + ".Conv2d_0", n, _outChannels, 2 * h + 1, 2 * wd + 1);
        pb.Step(name + ".Conv2d_0", [dilated, conv], t => b.Conv2d(t[0], _weight, null, t[1], stride: 1, padding: 0),
            2.0 * n * _outChannels * h * wd * x.Shape[1] * 9);
        var y = pb.Value(name, n, _outChannels, 2 * h, 2 * wd);
        pb.Step(name + ".fir", [conv, y], t => b.UpFirDn2d(t[0], _filter, t[1], 1, 1, 1, 1, _bias), 2.0 * y.Shape.Length * 16);
        return y;
    }
}
