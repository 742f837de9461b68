namespace DiffusionKernels.Runtime;

/// <summary>
/// The one interface every op goes through. Public methods check shapes and dtypes (naming the op and
/// both shapes) and then call the backend's kernel. Outputs are always preallocated by the caller, so
/// nothing here allocates inside a sampling step.
/// </summary>
public abstract partial class Backend : IDisposable
{
    /// <summary>The device name this backend was created for (<c>cpu</c>, <c>cuda:0</c>, <c>ilgpu-cpu</c>).</summary>
    public abstract string Name { get; }

    /// <summary>What the backend runs on.</summary>
    public abstract DeviceInfo Device { get; }

    // ---------------------------------------------------------------- memory

    /// <summary>A new zero-filled tensor owned by this backend.</summary>
    public Tensor Allocate(Shape shape, DType dtype = DType.Float32) =>
        new(this, AllocateStorage(shape.Length, dtype), 0, shape, ownsStorage: true);

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
    protected abstract TensorStorage AllocateStorage(long length, DType dtype);

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

    protected abstract void CopyFromHostCore(ReadOnlySpan<float> src, Tensor dst);
    protected abstract void CopyFromHostCore(ReadOnlySpan<long> src, Tensor dst);
    protected abstract void CopyToHostCore(Tensor src, Span<float> dst);
    protected abstract void CopyToHostCore(Tensor src, Span<long> dst);
    protected abstract void CopyCore(Tensor src, Tensor dst);
    protected abstract void FillCore(Tensor dst, float value);

    /// <summary>Elements per channel of x [N, C, ...] (1 for [N, C]).</summary>
    internal static int SpatialOf(Tensor x) => checked((int)x.Shape.Stride(2));

    /// <summary>Releases device resources.</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}
