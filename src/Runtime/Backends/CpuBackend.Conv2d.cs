using System.Runtime.CompilerServices;
using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    // Weights declared constant (PrepareConv2dWeights), packed once in the convolution micro-kernel's layout. Keyed by
    // tensor, so they live as long as the model's weights do; the storage table finds, on a host write, whether any
    // packed copy may have gone stale.
    private readonly ConditionalWeakTable<Tensor, PackedConvWeights> _packedConv = new();
    private readonly ConditionalWeakTable<TensorStorage, object> _packedStorages = new();

    protected override void PrepareConv2dWeightsCore(Tensor w)
    {
        if (_packedConv.TryGetValue(w, out _)) return;
        int cout = w.Shape[0];
        _packedConv.AddOrUpdate(w, new PackedConvWeights(F(w), cout, checked((int)(w.Length / cout))));
        _packedStorages.AddOrUpdate(w.Storage, w.Storage);
    }

    protected override void Conv2dCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int stride, int padding, Tensor? residual, float outputScale)
    {
        int n = x.Shape[0], cin = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int cout = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3], ho = y.Shape[2], wo = y.Shape[3];
        var b = bias is null ? default : F(bias);
        var r = residual is null ? default : F(residual);
        if (_packedConv.TryGetValue(w, out var packed))
            ImplicitGemmConv2d.Forward(F(x), packed, b, r, F(y), n, cin, h, wd, cout, kh, kw, ho, wo, stride, padding, outputScale);
        else
            ImplicitGemmConv2d.Forward(F(x), F(w), b, r, F(y), n, cin, h, wd, cout, kh, kw, ho, wo, stride, padding, outputScale);
    }

    /// <summary>Drops packed copies of weights that share <paramref name="written"/>'s storage (a host write may change them).</summary>
    private void ForgetPackedWeights(Tensor written)
    {
        if (!_packedStorages.TryGetValue(written.Storage, out _)) return;
        var stale = new List<Tensor>();
        foreach (var (tensor, _) in _packedConv)
            if (ReferenceEquals(tensor.Storage, written.Storage)) stale.Add(tensor);
        foreach (var tensor in stale) _packedConv.Remove(tensor);
        _packedStorages.Remove(written.Storage);
    }
}
