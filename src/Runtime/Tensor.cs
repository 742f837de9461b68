namespace DiffusionKernels.Runtime;

/// <summary>
/// A contiguous row-major tensor (NCHW for images) living on one backend. A tensor either owns its
/// storage or is a view into another tensor's storage (execution plans carve activations out of one arena).
/// </summary>
/// <remarks>
/// Thread safety: a tensor is plain memory; concurrent readers are fine, a writer needs exclusive use (the caller's to
/// arrange). Once its storage is disposed, every op on it or its views is an <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed class Tensor : IDisposable
{
    internal Tensor(Backend backend, TensorStorage storage, long offset, Shape shape, bool ownsStorage)
    {
        if (offset < 0 || offset + shape.Length > storage.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"view {shape} at offset {offset} exceeds storage of {storage.Length} elements");
        Backend = backend;
        Storage = storage;
        Offset = offset;
        Shape = shape;
        OwnsStorage = ownsStorage;
    }

    /// <summary>The backend that owns the memory.</summary>
    public Backend Backend { get; }
    /// <summary>The memory this tensor lives in.</summary>
    public TensorStorage Storage { get; }
    /// <summary>Element offset of this tensor inside <see cref="Storage"/>.</summary>
    public long Offset { get; }
    /// <summary>The shape.</summary>
    public Shape Shape { get; }
    /// <summary>Element type.</summary>
    public DType DType => Storage.DType;
    /// <summary>Element count.</summary>
    public long Length => Shape.Length;
    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Rank;
    /// <summary>True when disposing this tensor frees its memory.</summary>
    public bool OwnsStorage { get; }

    /// <summary>A view of <paramref name="shape"/> starting <paramref name="offset"/> elements into this tensor.</summary>
    public Tensor View(Shape shape, long offset = 0)
    {
        if (offset < 0 || offset + shape.Length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"view {shape} at offset {offset} exceeds tensor {Shape}");
        return new Tensor(Backend, Storage, Offset + offset, shape, ownsStorage: false);
    }

    /// <summary>The same elements under another shape of equal length.</summary>
    public Tensor Reshape(params int[] dims)
    {
        var s = new Shape(dims);
        if (s.Length != Length) throw ShapeMismatchException.For("reshape", "element count", Length, $"{s.Length} for {s}");
        return new Tensor(Backend, Storage, Offset, s, ownsStorage: false);
    }

    /// <summary>Samples [start, start+count) along dimension 0, as a view.</summary>
    public Tensor Slice0(int start, int count)
    {
        if (start < 0 || count <= 0 || start + count > Shape[0])
            throw new ArgumentOutOfRangeException(nameof(start), $"slice [{start},{start + count}) outside dimension 0 of {Shape}");
        var dims = Shape.ToArray();
        dims[0] = count;
        return new Tensor(Backend, Storage, Offset + start * Shape.Stride(1), new Shape(dims), ownsStorage: false);
    }

    /// <summary>Copies the elements to a new host array (float32 tensors).</summary>
    public float[] ToArray()
    {
        var a = new float[Length];
        Backend.CopyToHost(this, a);
        return a;
    }

    /// <summary>Copies the elements to a new host array (int64 tensors).</summary>
    public long[] ToInt64Array()
    {
        var a = new long[Length];
        Backend.CopyToHost(this, a);
        return a;
    }

    /// <summary>Frees the storage if this tensor owns it (a view does not); the tensor is unusable afterwards.</summary>
    public void Dispose()
    {
        if (OwnsStorage) Storage.Dispose();
    }

    /// <summary>Shape, dtype and backend, for messages.</summary>
    public override string ToString() => $"Tensor{Shape} {DType} on {Backend.Name}";
}
