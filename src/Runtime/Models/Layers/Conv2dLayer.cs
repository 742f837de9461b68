using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>nn.Conv2d with bias; <c>extraPadBottomRight</c> reproduces diffusers' F.pad(x, (0,1,0,1)) before a padding-0 conv.</summary>
internal sealed class Conv2dLayer
{
    private readonly Tensor _weight;
    private readonly Tensor? _bias;
    private readonly int _stride, _padding, _extra;

    public Conv2dLayer(ModelWeights w, string prefix, int cin, int cout, int kernel, int stride = 1, int padding = 0, int extraPadBottomRight = 0)
    {
        _weight = w.Take(prefix + ".weight", cout, cin, kernel, kernel);
        _bias = w.Take(prefix + ".bias", cout);
        (OutChannels, Kernel, _stride, _padding, _extra) = (cout, kernel, stride, padding, extraPadBottomRight);
    }

    public int OutChannels { get; }
    public int Kernel { get; }

    /// <summary>y = (conv(x) + bias + residual) · outputScale.</summary>
    public PlanValue Emit(PlanBuilder pb, string name, PlanValue x, PlanValue? residual = null, float outputScale = 1f)
    {
        int n = x.Shape[0], cin = x.Shape[1];
        int ho = (x.Shape[2] + 2 * _padding + _extra - Kernel) / _stride + 1;
        int wo = (x.Shape[3] + 2 * _padding + _extra - Kernel) / _stride + 1;
        var y = pb.Value(name, n, OutChannels, ho, wo);
        var b = pb.Backend;
        // Constant for the plan's life: the backend may lay it out once for its kernel now rather than on every call.
        b.PrepareConv2dWeights(_weight, _stride);
        double flops = 2.0 * n * OutChannels * ho * wo * cin * Kernel * Kernel;
        if (residual is null)
            pb.Step(name, [x, y], t => b.Conv2d(t[0], _weight, _bias, t[1], _stride, _padding, null, outputScale, _extra), flops);
        else
            pb.Step(name, [x, residual, y], t => b.Conv2d(t[0], _weight, _bias, t[2], _stride, _padding, t[1], outputScale, _extra), flops);
        return y;
    }

    /// <summary>
    /// y = conv(x) + bias + sampleBias[n, offset + c]: a per-sample channel bias (a resnet's time-embedding projection,
    /// columns [offset, offset + Cout) of [N, S]) added in the conv's epilogue, one step instead of a conv and an add.
    /// </summary>
    public PlanValue Emit(PlanBuilder pb, string name, PlanValue x, PlanValue sampleBias, int sampleBiasOffset)
    {
        int n = x.Shape[0], cin = x.Shape[1];
        int ho = (x.Shape[2] + 2 * _padding + _extra - Kernel) / _stride + 1;
        int wo = (x.Shape[3] + 2 * _padding + _extra - Kernel) / _stride + 1;
        var y = pb.Value(name, n, OutChannels, ho, wo);
        var b = pb.Backend;
        b.PrepareConv2dWeights(_weight, _stride);
        double flops = 2.0 * n * OutChannels * ho * wo * cin * Kernel * Kernel;
        pb.Step(name, [x, sampleBias, y], t => b.Conv2dWithSampleBias(t[0], _weight, _bias, t[1], sampleBiasOffset, t[2], _stride, _padding, null, 1f, _extra), flops);
        return y;
    }

    /// <summary>
    /// y = conv(nearest2x(x)) + bias with the upsample read inside the conv (diffusers' Upsample2D with use_conv): one
    /// step, and no upsampled tensor in the arena.
    /// </summary>
    public PlanValue EmitOfUpsampled(PlanBuilder pb, string name, PlanValue x)
    {
        if (_extra != 0) throw new InvalidOperationException($"{name}: a conv with bottom-right padding does not read through an upsample");
        int n = x.Shape[0], cin = x.Shape[1];
        int ho = (2 * x.Shape[2] + 2 * _padding - Kernel) / _stride + 1;
        int wo = (2 * x.Shape[3] + 2 * _padding - Kernel) / _stride + 1;
        var y = pb.Value(name, n, OutChannels, ho, wo);
        var b = pb.Backend;
        b.PrepareConv2dWeights(_weight, _stride);
        double flops = 2.0 * n * OutChannels * ho * wo * cin * Kernel * Kernel;
        pb.Step(name, [x, y], t => b.Conv2dOfUpsampled(t[0], _weight, _bias, t[1], _stride, _padding), flops);
        return y;
    }

    /// <summary>
    /// y = conv(cat(a, c)) + bias + residual with the channel concat read inside the conv's gather (a resnet's
    /// conv_shortcut in an up block): one step, and no concatenated tensor in the arena.
    /// </summary>
    public PlanValue EmitOfConcat(PlanBuilder pb, string name, PlanValue a, PlanValue c)
    {
        if (_extra != 0) throw new InvalidOperationException($"{name}: a conv with bottom-right padding does not read through a concat");
        int n = a.Shape[0], cin = a.Shape[1] + c.Shape[1];
        int ho = (a.Shape[2] + 2 * _padding - Kernel) / _stride + 1;
        int wo = (a.Shape[3] + 2 * _padding - Kernel) / _stride + 1;
        var y = pb.Value(name, n, OutChannels, ho, wo);
        var b = pb.Backend;
        b.PrepareConv2dWeights(_weight, _stride);
        double flops = 2.0 * n * OutChannels * ho * wo * cin * Kernel * Kernel;
        pb.Step(name, [a, c, y], t => b.Conv2dOfConcat(t[0], t[1], _weight, _bias, t[2], _stride, _padding), flops);
        return y;
    }
}
