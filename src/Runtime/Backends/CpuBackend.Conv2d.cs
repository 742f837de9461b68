using System.Buffers;
using System.Runtime.CompilerServices;
using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    // Below this many input or output channels a 3×3 conv stays on the implicit GEMM: the Winograd transforms (16 values
    // per channel and tile, in and out) are not paid back by 9 → 4 multiplies per output (conv_in's 3 inputs, conv_out's 3 outputs).
    private const int WinogradMinChannels = 16;

    // Weights declared constant (PrepareConv2dWeights), laid out once for their kernel: the implicit GEMM's packed
    // panels, or for 3×3 stride-1 convs the Winograd-domain panels. Keyed by tensor, so they live as long as the
    // model's weights do; the storage table finds, on a host write, whether any laid-out copy may have gone stale.
    private readonly ConditionalWeakTable<Tensor, PackedConvWeights> _packedConv = new();
    private readonly ConditionalWeakTable<Tensor, WinogradWeights> _winogradConv = new();
    private readonly ConditionalWeakTable<TensorStorage, object> _packedStorages = new();

    /// <summary>
    /// Whether 3×3 stride-1 convolutions (≥ 16 channels in and out, enough 2×2 tiles) run as Winograd F(2×2, 3×3):
    /// 2.25× fewer multiplies, and a result that differs from the direct sum by fp32 rounding only (≈1e-6 relative; the
    /// golden U-Nets pass at 1e-4 either way). Weights declared with <see cref="Backend.PrepareConv2dWeights"/> (as a
    /// compiled U-Net plan declares them) are transformed once; others on every call. Default true.
    /// </summary>
    public bool Winograd { get; init; } = true;

    private protected override void PrepareConv2dWeightsCore(Tensor w, int stride)
    {
        int cout = w.Shape[0], cin = w.Shape[1];
        if (UsesWinograd(w.Shape, stride))
        {
            if (!_winogradConv.TryGetValue(w, out _)) _winogradConv.AddOrUpdate(w, new WinogradWeights(F(w), cout, cin));
        }
        else if (!_packedConv.TryGetValue(w, out _))
            _packedConv.AddOrUpdate(w, new PackedConvWeights(F(w), cout, checked((int)(w.Length / cout))));
        _packedStorages.AddOrUpdate(w.Storage, w.Storage);
    }

    private bool UsesWinograd(Shape w, int stride) =>
        Winograd && stride == 1 && w[2] == 3 && w[3] == 3 && w[0] >= WinogradMinChannels && w[1] >= WinogradMinChannels;

    private protected override void Conv2dCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, float outputScale) =>
        Convolve(F(x), x.Shape, w, bias, y, stride, padding, residual, outputScale);

    /// <summary>The conv of an input held in <paramref name="x"/> with shape <paramref name="xShape"/> (a tensor's elements or scratch).</summary>
    private void Convolve(ReadOnlySpan<float> x, Shape xShape, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, float outputScale)
    {
        int n = xShape[0], cin = xShape[1], h = xShape[2], wd = xShape[3];
        int cout = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3], ho = y.Shape[2], wo = y.Shape[3];
        var b = bias is null ? default : F(bias);
        var r = residual is null ? default : F(residual);
        // The kernel depends on the call's shapes only, never on whether the weights were declared, so a declared weight
        // and a copy of it (as the CPU fallback of another backend makes) give the same bits.
        bool winogradShape = UsesWinograd(w.Shape, stride);
        WinogradWeights? winograd = null;
        bool winogradWeights = winogradShape && _winogradConv.TryGetValue(w, out winograd);
        if (winogradShape && WinogradConv2d.FillsPanels(n, ho, wo))
            WinogradConv2d.Forward(x, winograd ?? new WinogradWeights(F(w), cout, cin), b, r, F(y), n, cin, h, wd, cout, ho, wo, padding, outputScale);
        else if (_packedConv.TryGetValue(w, out var packed) || (winogradWeights && (packed = PackOnFirstUse(w)) is not null))
            ImplicitGemmConv2d.Forward(x, packed, b, r, F(y), n, cin, h, wd, cout, kh, kw, ho, wo, stride, padding, outputScale);
        else
            ImplicitGemmConv2d.Forward(x, F(w), b, r, F(y), n, cin, h, wd, cout, kh, kw, ho, wo, stride, padding, outputScale);
    }

    /// <summary>
    /// The conv, then the per-sample bias added in place in the same op: y = (conv + bias + residual)·s + s·sampleBias.
    /// With s = 1 (a resnet's conv1) this is the bits of a conv followed by <see cref="Backend.AddChannelBias(Tensor, Tensor, Tensor)"/>,
    /// the unfused path; otherwise it differs from one sum by fp32 rounding only.
    /// </summary>
    private protected override void Conv2dSampleBiasCore(Tensor x, Tensor w, Tensor? bias, Tensor sampleBias, int sampleBiasOffset, Tensor y,
        int stride, int padding, Tensor? residual, float outputScale)
    {
        Conv2dCore(x, w, bias, y, stride, padding, residual, outputScale);
        ChannelOps.AddChannelBias(F(y), F(sampleBias), F(y), y.Shape[0], y.Shape[1], y.Shape[2] * y.Shape[3], sampleBiasOffset, sampleBias.Shape[1], outputScale);
    }

    /// <summary>
    /// The upsample into pooled scratch, then the conv: the bits of the two ops it stands for (the CPU pays no launch
    /// per op, so only the GPU kernels read through the upsample). The scratch is rented, so a replayed plan allocates
    /// nothing for it.
    /// </summary>
    private protected override void Conv2dOfUpsampledCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride, int padding)
    {
        var upShape = new Shape(x.Shape[0], x.Shape[1], 2 * x.Shape[2], 2 * x.Shape[3]);
        int length = checked((int)upShape.Length);
        float[] scratch = ArrayPool<float>.Shared.Rent(length);
        try
        {
            var up = scratch.AsSpan(0, length);
            Resampling.UpsampleNearest2x(F(x), up, x.Shape[0] * x.Shape[1], x.Shape[2], x.Shape[3]);
            Convolve(up, upShape, w, bias, y, stride, padding, null, 1f);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// The implicit GEMM's panels for a declared Winograd weight whose call has too few tiles for Winograd (a small image
    /// at batch 1): packed once, on the first such call, and kept beside the Winograd form.
    /// </summary>
    private PackedConvWeights PackOnFirstUse(Tensor w)
    {
        int cout = w.Shape[0];
        var packed = _packedConv.GetValue(w, t => new PackedConvWeights(F(t), cout, checked((int)(t.Length / cout))));
        _packedStorages.AddOrUpdate(w.Storage, w.Storage);
        return packed;
    }

    /// <summary>Drops laid-out copies of weights that share <paramref name="written"/>'s storage (a host write may change them).</summary>
    private void ForgetPackedWeights(Tensor written)
    {
        if (!_packedStorages.TryGetValue(written.Storage, out _)) return;
        var stale = new List<Tensor>();
        foreach (var (tensor, _) in _packedConv)
            if (ReferenceEquals(tensor.Storage, written.Storage)) stale.Add(tensor);
        foreach (var (tensor, _) in _winogradConv)
            if (ReferenceEquals(tensor.Storage, written.Storage)) stale.Add(tensor);
        foreach (var tensor in stale)
        {
            _packedConv.Remove(tensor);
            _winogradConv.Remove(tensor);
        }
        _packedStorages.Remove(written.Storage);
    }
}
