namespace DiffusionKernels.Runtime;

/// <summary>
/// The one interface every op goes through. Public methods check shapes and dtypes (naming the op and
/// both shapes) and then call the backend's kernel. Outputs are always preallocated by the caller, so
/// nothing here allocates inside a sampling step.
/// </summary>
/// <remarks>
/// <para>Memory: every allocation is checked first against what the device has (<see cref="DeviceInfo.MemoryBytes"/>),
/// so a request that can never fit is an <see cref="InsufficientMemoryException"/> naming the sizes, made before
/// anything is allocated.</para>
/// <para>Thread safety: see <see cref="SupportsConcurrentCalls"/>. Disposal must not race with use; after
/// <see cref="Dispose"/>, every call is an <see cref="ObjectDisposedException"/> naming the backend.</para>
/// </remarks>
public abstract partial class Backend : IDisposable
{
    private long _allocatedBytes;
    private Action<TensorStorage>? _onRelease;

    /// <summary>
    /// True when ops on distinct tensors may be called from several threads at once (<see cref="CpuBackend"/>). When
    /// false (<see cref="IlgpuBackend"/>: one device stream), callers must serialize every call on this backend.
    /// </summary>
    public virtual bool SupportsConcurrentCalls => false;

    /// <summary>
    /// Kernels this backend has queued so far, counted at every launch site (an op that queues two kernels counts two),
    /// or null for a backend that launches no kernels (<see cref="CpuBackend"/>: each op call is its own unit of work).
    /// </summary>
    internal virtual long? KernelLaunches => null;

    /// <summary>
    /// Times the host has waited for the device since the backend was created: every stream synchronisation, whether
    /// asked for (<see cref="Synchronize"/>), needed to read a result (<see cref="CopyToHost(Tensor, Span{float})"/>), or
    /// forced by an upload too large to stage. Tests use it to check a sampling run does not wait once per step. Always 0
    /// where there is no device to wait for (the CPU backend runs every op before returning).
    /// </summary>
    internal virtual long HostSynchronizations => 0;

    /// <summary>True once <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Bytes of the tensors this backend allocated and that have not been disposed yet.</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming the backend once it has been disposed.</summary>
    public void ThrowIfDisposed()
    {
        if (IsDisposed) throw new ObjectDisposedException(GetType().Name, $"the {Name} backend has been disposed");
    }

    /// <summary>
    /// Fails, before anything is allocated, when <paramref name="bytes"/> exceed the device's memory: a request that can
    /// never succeed. (What the backend already holds is reported, not subtracted: tensors a caller forgot to dispose
    /// are reclaimed by the GC on the CPU, so counting them would refuse requests that fit.)
    /// </summary>
    /// <param name="bytes">The bytes about to be allocated.</param>
    /// <param name="what">What they are for, for the message.</param>
    /// <exception cref="InsufficientMemoryException">They do not fit.</exception>
    public void EnsureCanAllocate(long bytes, string what)
    {
        ThrowIfDisposed();
        long capacity = Device.MemoryBytes;
        if (capacity > 0 && bytes > capacity)
        {
            long held = AllocatedBytes;
            throw new InsufficientMemoryException(
                $"{Name}: {what} needs {MemoryBudget.Format(bytes)}, more than the {MemoryBudget.Format(capacity)} of memory the device has{(held > 0 ? $" ({MemoryBudget.Format(held)} of it held by this backend now)" : "")}");
        }
    }
    /// <summary>The device name this backend was created for (<c>cpu</c>, <c>cuda:0</c>, <c>ilgpu-cpu</c>).</summary>
    public abstract string Name { get; }

    /// <summary>What the backend runs on.</summary>
    public abstract DeviceInfo Device { get; }

    // ---------------------------------------------------------------- memory

    /// <summary>A new zero-filled tensor owned by this backend.</summary>
    /// <exception cref="InsufficientMemoryException">The tensor cannot fit in the device's memory.</exception>
    /// <exception cref="ObjectDisposedException">The backend has been disposed.</exception>
    public Tensor Allocate(Shape shape, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ThrowIfDisposed();
        // Messages are only built on failure: allocation must stay cheap.
        long capacity = Device.MemoryBytes;
        if (shape.Length > long.MaxValue / dtype.Size() || (capacity > 0 && shape.Length * dtype.Size() > capacity))
            EnsureCanAllocate(MemoryBudget.Elements($"a {dtype} tensor {shape}", shape.Length, dtype.Size()), $"a {dtype} tensor {shape}");
        var storage = AllocateStorage(shape.Length, dtype);
        Interlocked.Add(ref _allocatedBytes, storage.Bytes);
        storage.OnRelease = _onRelease ??= s => Interlocked.Add(ref _allocatedBytes, -s.Bytes);
        return new(this, storage, 0, shape, ownsStorage: true);
    }

    /// <summary>A new zero-filled float32 tensor.</summary>
    public Tensor Allocate(params int[] dims) => Allocate(new Shape(dims));

    /// <summary>A new float32 tensor holding <paramref name="data"/>.</summary>
    public Tensor Upload(ReadOnlySpan<float> data, Shape shape)
    {
        if (data.Length != shape.Length) throw ShapeMismatchException.For("upload", $"element count for {shape}", shape.Length, data.Length);
        var t = Allocate(shape);
        CopyFromHost(data, t);
        return t;
    }

    /// <summary>A new int64 tensor holding <paramref name="data"/>.</summary>
    public Tensor Upload(ReadOnlySpan<long> data, Shape shape)
    {
        if (data.Length != shape.Length) throw ShapeMismatchException.For("upload", $"element count for {shape}", shape.Length, data.Length);
        var t = Allocate(shape, DType.Int64);
        CopyFromHost(data, t);
        return t;
    }

    /// <summary>Zero-filled storage of <paramref name="length"/> elements.</summary>
    private protected abstract TensorStorage AllocateStorage(long length, DType dtype);

    /// <summary>Host → tensor copy.</summary>
    public void CopyFromHost(ReadOnlySpan<float> src, Tensor dst)
    {
        Check.Owned(this, "copy from host", dst);
        Check.DType("copy from host", dst, DType.Float32);
        if (src.Length != dst.Length) throw ShapeMismatchException.For("copy from host", $"element count of {dst.Shape}", dst.Length, src.Length);
        CopyFromHostCore(src, dst);
    }

    /// <summary>Host → tensor copy (int64).</summary>
    public void CopyFromHost(ReadOnlySpan<long> src, Tensor dst)
    {
        Check.Owned(this, "copy from host", dst);
        Check.DType("copy from host", dst, DType.Int64);
        if (src.Length != dst.Length) throw ShapeMismatchException.For("copy from host", $"element count of {dst.Shape}", dst.Length, src.Length);
        CopyFromHostCore(src, dst);
    }

    /// <summary>Tensor → host copy; waits for pending work.</summary>
    public void CopyToHost(Tensor src, Span<float> dst)
    {
        Check.Owned(this, "copy to host", src);
        Check.DType("copy to host", src, DType.Float32);
        if (dst.Length != src.Length) throw ShapeMismatchException.For("copy to host", $"element count of {src.Shape}", src.Length, dst.Length);
        CopyToHostCore(src, dst);
    }

    /// <summary>Tensor → host copy (int64); waits for pending work.</summary>
    public void CopyToHost(Tensor src, Span<long> dst)
    {
        Check.Owned(this, "copy to host", src);
        Check.DType("copy to host", src, DType.Int64);
        if (dst.Length != src.Length) throw ShapeMismatchException.For("copy to host", $"element count of {src.Shape}", src.Length, dst.Length);
        CopyToHostCore(src, dst);
    }

    /// <summary>Device-side copy between tensors of equal length and dtype.</summary>
    public void Copy(Tensor src, Tensor dst)
    {
        Check.Owned(this, "copy", src, dst);
        if (src.DType != dst.DType) throw new DTypeMismatchException($"copy: source is {src.DType}, destination is {dst.DType}");
        if (src.Length != dst.Length) throw ShapeMismatchException.For("copy", "destination element count", src.Length, $"{dst.Length} ({dst.Shape} vs source {src.Shape})");
        CopyCore(src, dst);
    }

    /// <summary>Sets every element of a float32 tensor to <paramref name="value"/>.</summary>
    public void Fill(Tensor dst, float value)
    {
        Check.Owned(this, "fill", dst);
        Check.DType("fill", dst, DType.Float32);
        FillCore(dst, value);
    }

    /// <summary>Blocks until all queued work has finished.</summary>
    public abstract void Synchronize();

    private protected abstract void CopyFromHostCore(ReadOnlySpan<float> src, Tensor dst);
    private protected abstract void CopyFromHostCore(ReadOnlySpan<long> src, Tensor dst);
    private protected abstract void CopyToHostCore(Tensor src, Span<float> dst);
    private protected abstract void CopyToHostCore(Tensor src, Span<long> dst);
    private protected abstract void CopyCore(Tensor src, Tensor dst);
    private protected abstract void FillCore(Tensor dst, float value);

    /// <summary>Elements per channel of x [N, C, ...] (1 for [N, C]).</summary>
    internal static int SpatialOf(Tensor x) => checked((int)x.Shape.Stride(2));

    /// <summary>Releases device resources; later calls fail with <see cref="ObjectDisposedException"/>. Disposing twice does nothing.</summary>
    public virtual void Dispose()
    {
        IsDisposed = true;
        GC.SuppressFinalize(this);
    }
}
