namespace DiffusionKernels.Runtime;

/// <summary>The memory behind one or more tensors, owned by a backend.</summary>
public abstract class TensorStorage : IDisposable
{
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

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the backing memory.</summary>
    protected abstract void Release();
}
