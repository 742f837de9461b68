namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// y = (conv2d(x, w) + bias + residual) · outputScale (PyTorch cross-correlation).
    /// x [N, Cin, H, W], w [Cout, Cin, kh, kw], bias [Cout], y and residual [N, Cout, Ho, Wo] with
    /// Ho = (H + 2·padding + extraPadBottomRight − kh) / stride + 1. <paramref name="extraPadBottomRight"/>
    /// adds zero rows/columns at the bottom and right only (diffusers' <c>downsample_padding=0</c>).
    /// </summary>
    public void Conv2d(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride = 1, int padding = 0,
        Tensor? residual = null, float outputScale = 1f, int extraPadBottomRight = 0)
    {
        CheckConv2d(x, w, bias, y, stride, padding, residual, extraPadBottomRight);
        if (!Supports(BackendOp.Conv2d))
        {
            OnCpu([x, w, bias, y, residual], [y], (cpu, m) => cpu.Conv2d(m[x], m[w], m.Maybe(bias), m[y], stride, padding, m.Maybe(residual), outputScale, extraPadBottomRight));
            return;
        }
        Conv2dCore(x, w, bias, y, stride, padding, residual, outputScale);
    }

    /// <summary>
    /// <see cref="Conv2d(Tensor, Tensor, Tensor?, Tensor, int, int, Tensor?, float, int)"/> with a per-sample channel bias
    /// in the epilogue: y = (conv2d(x, w) + bias[c] + sampleBias[n, sampleBiasOffset + c] + residual) · outputScale, the
    /// bias read in place from the column slice [sampleBiasOffset, sampleBiasOffset + Cout) of sampleBias [N, S] (a
    /// resnet block's time-embedding projection, one launch instead of a conv and an add).
    /// </summary>
    internal void Conv2dWithSampleBias(Tensor x, Tensor w, Tensor? bias, Tensor sampleBias, int sampleBiasOffset, Tensor y, int stride = 1,
        int padding = 0, Tensor? residual = null, float outputScale = 1f, int extraPadBottomRight = 0)
    {
        const string op = "conv2d";
        CheckConv2d(x, w, bias, y, stride, padding, residual, extraPadBottomRight);
        Check.Owned(this, op, sampleBias);
        Check.Float(op, (sampleBias, "sample bias"));
        Check.Rank(op, sampleBias, 2, "sample bias");
        if (sampleBias.Shape[0] != y.Shape[0] || sampleBiasOffset < 0 || (long)sampleBiasOffset + y.Shape[1] > sampleBias.Shape[1])
            throw new ShapeMismatchException($"{op}: sample bias {sampleBias.Shape} has no columns [{sampleBiasOffset}, {(long)sampleBiasOffset + y.Shape[1]}) for {y.Shape[0]} samples of output {y.Shape}");
        if (!Supports(BackendOp.Conv2d))
        {
            OnCpu([x, w, bias, sampleBias, y, residual], [y], (cpu, m) => cpu.Conv2dWithSampleBias(m[x], m[w], m.Maybe(bias), m[sampleBias], sampleBiasOffset, m[y], stride, padding, m.Maybe(residual), outputScale, extraPadBottomRight));
            return;
        }
        Conv2dSampleBiasCore(x, w, bias, sampleBias, sampleBiasOffset, y, stride, padding, residual, outputScale);
    }

    /// <summary>
    /// y = conv2d(nearest2x(x), w) + bias with the nearest ×2 upsample read inside the conv's gather (input pixel
    /// (iy / 2, ix / 2) for tap (iy, ix) of the upsampled map): one launch instead of an upsample and a conv, and no
    /// upsampled tensor. x [N, Cin, H, W], y [N, Cout, Ho, Wo] with Ho = (2H + 2·padding − kh) / stride + 1.
    /// </summary>
    internal void Conv2dOfUpsampled(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride = 1, int padding = 0)
    {
        CheckConv2d(x, w, bias, y, stride, padding, null, 0, upsampled: true);
        if (!Supports(BackendOp.Conv2d))
        {
            OnCpu([x, w, bias, y], [y], (cpu, m) => cpu.Conv2dOfUpsampled(m[x], m[w], m.Maybe(bias), m[y], stride, padding));
            return;
        }
        Conv2dOfUpsampledCore(x, w, bias, y, stride, padding);
    }

    private void CheckConv2d(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, int extraPadBottomRight,
        bool upsampled = false, Tensor? second = null)
    {
        string op = upsampled ? "conv2d of nearest ×2" : second is null ? "conv2d" : "conv2d of concat";
        Check.Owned(this, op, x, w, bias, y, residual);
        Check.Float(op, (x, "input"), (w, "weight"), (bias, "bias"), (y, "output"), (residual, "residual"));
        Check.Rank(op, x, 4, "input");
        Check.Rank(op, w, 4, "weight");
        Check.Rank(op, y, 4, "output");
        if (stride < 1) throw new ArgumentOutOfRangeException(nameof(stride), $"{op}: stride must be ≥ 1, found {stride}");
        if (padding < 0 || extraPadBottomRight < 0) throw new ArgumentOutOfRangeException(nameof(padding), $"{op}: padding must be ≥ 0");
        // The conv sees the upsampled map [N, C, 2H, 2W] when it reads through the upsample, cat(x, second) when it reads a concat.
        var seen = upsampled ? new Shape(x.Shape[0], x.Shape[1], 2 * x.Shape[2], 2 * x.Shape[3])
            : second is null ? x.Shape : ConcatShape(op, x, second);
        int n = seen[0], cin = seen[1], h = seen[2], wd = seen[3];
        int cout = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        if (w.Shape[1] != cin) throw ShapeMismatchException.For(op, $"weight input channels (input is {seen})", cin, w.Shape);
        int ho = (h + 2 * padding + extraPadBottomRight - kh) / stride + 1;
        int wo = (wd + 2 * padding + extraPadBottomRight - kw) / stride + 1;
        if (ho < 1 || wo < 1) throw new ShapeMismatchException($"{op}: kernel {w.Shape} does not fit input {seen} with padding {padding}");
        Check.Shape(op, y, $"output (input {seen}, weight {w.Shape}, stride {stride}, padding {padding})", n, cout, ho, wo);
        if (bias is not null) Check.Shape(op, bias, "bias", cout);
        if (residual is not null) Check.Same(op, residual, "residual", y, "output");
    }

    /// <summary>
    /// Declares <paramref name="w"/> [Cout, Cin, kh, kw] a constant convolution weight (a model's, at plan compile
    /// time) that <see cref="Conv2d"/> will use with <paramref name="stride"/>, so the backend may keep a copy in its
    /// kernel's own layout and skip re-laying it out on every call. Writing the tensor later through
    /// <see cref="CopyFromHost(ReadOnlySpan{float}, Tensor)"/>, <see cref="Copy"/> or <see cref="Fill"/> drops that
    /// copy; no other op may write a declared weight. Declaring it again is a no-op.
    /// </summary>
    public void PrepareConv2dWeights(Tensor w, int stride = 1)
    {
        const string op = "conv2d";
        Check.Owned(this, op, w);
        Check.Float(op, (w, "weight"));
        Check.Rank(op, w, 4, "weight");
        if (stride < 1) throw new ArgumentOutOfRangeException(nameof(stride), $"{op}: stride must be ≥ 1, found {stride}");
        PrepareConv2dWeightsCore(w, stride);
    }

    /// <summary>Keeps <paramref name="w"/> in the backend's preferred layout for <paramref name="stride"/>; the default keeps nothing.</summary>
    private protected virtual void PrepareConv2dWeightsCore(Tensor w, int stride) { }

    /// <summary>Kernel entry: output size is taken from <paramref name="y"/>; taps outside the input read zero.</summary>
    private protected virtual void Conv2dCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, float outputScale) => throw NotImplementedHere(BackendOp.Conv2d);

    /// <summary>Kernel entry of the conv that reads x [N, C, H, W] as its nearest ×2 upsample; output size from <paramref name="y"/>.</summary>
    private protected virtual void Conv2dOfUpsampledCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride, int padding) => throw NotImplementedHere(BackendOp.Conv2d);

    /// <summary>Kernel entry of the conv with a per-sample channel bias: sampleBias [N, S], Cout columns from <paramref name="sampleBiasOffset"/>.</summary>
    private protected virtual void Conv2dSampleBiasCore(Tensor x, Tensor w, Tensor? bias, Tensor sampleBias, int sampleBiasOffset, Tensor y,
        int stride, int padding, Tensor? residual, float outputScale) => throw NotImplementedHere(BackendOp.Conv2d);
}
