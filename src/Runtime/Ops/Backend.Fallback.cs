namespace DiffusionKernels.Runtime;

/// <summary>The ops of <see cref="Backend"/>, for <see cref="Backend.Supports"/>.</summary>
internal enum BackendOp
{
    Activate, AddChannelBias, Attention, AvgPool2x2, Axpby, BatchedMatMul, Clamp, ConcatChannels, Conv2d, CopyChannels,
    EmbeddingLookup, Fft2d, FlagNonFinite, GroupNorm, Linear, LinearCombination, MultiplyMask, NchwToTokens, RandomNormal,
    Reduce, ScaleShift, TimestepEmbedding, TokensToNchw, UpFirDn2d, UpsampleNearest2x,
}

public abstract partial class Backend
{
    /// <summary>
    /// True when this backend runs <paramref name="op"/> itself (the default). For an op it does not support, the checked
    /// method runs the op on the CPU backend instead: the tensors are copied to the host, the op runs there and its
    /// outputs are copied back. So a new backend, or a new op on one backend, can land one op at a time (ggml's
    /// <c>supports_op</c>), and only the memory methods and the supported ops' <c>…Core</c> methods need overriding.
    /// </summary>
    internal virtual bool Supports(BackendOp op) => true;

    private CpuBackend? _cpuFallback;

    /// <summary>Runs an unsupported op on the CPU backend over host copies of <paramref name="tensors"/>, then copies <paramref name="outputs"/> back.</summary>
    private protected void OnCpu(Tensor?[] tensors, Tensor[] outputs, Action<CpuBackend, HostCopies> run)
    {
        var cpu = _cpuFallback ??= new CpuBackend();
        using var copies = new HostCopies(this, cpu);
        foreach (var t in tensors)
            if (t is not null) copies.Add(t);
        run(cpu, copies);
        foreach (var o in outputs) copies.CopyBack(o);
    }

    /// <summary>The exception for an op that a backend claims to support but does not implement.</summary>
    private protected NotSupportedException NotImplementedHere(BackendOp op) =>
        new($"{Name}: {op} is not implemented by this backend (a backend that lacks it returns false from Supports({nameof(BackendOp)}.{op}), and the op runs on the CPU)");

    /// <summary>CPU copies of one op's tensors, each distinct tensor copied once.</summary>
    private protected sealed class HostCopies(Backend from, CpuBackend cpu) : IDisposable
    {
        private readonly Dictionary<Tensor, Tensor> _copies = new(ReferenceEqualityComparer.Instance);

        public Tensor this[Tensor t] => _copies[t];

        public Tensor? Maybe(Tensor? t) => t is null ? null : _copies[t];

        public void Add(Tensor t)
        {
            if (_copies.ContainsKey(t)) return;
            var copy = cpu.Allocate(t.Shape, t.DType);
            if (t.DType == DType.Float32) cpu.CopyFromHost(t.ToArray(), copy);
            else cpu.CopyFromHost(t.ToInt64Array(), copy);
            _copies[t] = copy;
        }

        public void CopyBack(Tensor t)
        {
            var copy = _copies[t];
            if (t.DType == DType.Float32) from.CopyFromHost(copy.ToArray(), t);
            else from.CopyFromHost(copy.ToInt64Array(), t);
        }

        public void Dispose()
        {
            foreach (var c in _copies.Values) c.Dispose();
        }
    }
}
