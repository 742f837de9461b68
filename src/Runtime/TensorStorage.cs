namespace DiffusionKernels.Runtime;

/// <summary>The memory behind one or more tensors, owned by a backend.</summary>
/// <remarks>Thread safety: plain memory, as <see cref="Tensor"/>: concurrent readers, one writer. Disposing is idempotent and may race with nothing else: dispose a storage once every user of it is done.</remarks>
public abstract class TensorStorage : IDisposable
{
    /// <summary>A storage of <paramref name="length"/> elements of <paramref name="dtype"/>; the backends create them.</summary>
    protected TensorStorage(long length, DType dtype)
    {
        Length = length;
        DType = dtype;
    }

    /// <summary>Element count.</summary>
    public long Length { get; }
    /// <summary>Element type.</summary>
    public DType DType { get; }
    /// <summary>True once released.</summary>
    public bool IsDisposed { get; private set; }
    /// <summary>Bytes of the elements.</summary>
    public long Bytes => Length * DType.Size();

    /// <summary>Called once when the memory is released (the owning backend's accounting).</summary>
    internal Action<TensorStorage>? OnRelease { get; set; }

    /// <summary>Releases the memory once; later calls do nothing.</summary>
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Release();
        OnRelease?.Invoke(this);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the backing memory.</summary>
    protected abstract void Release();
}
