namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// One tensor's entry in a safetensors header: its dtype name as written in the file (e.g. "F32"), shape and
/// [<paramref name="Begin"/>, <paramref name="End"/>) byte offsets relative to the start of the data section.
/// </summary>
public sealed record TensorInfo(string Name, string DType, int[] Shape, long Begin, long End)
{
    /// <summary>Bytes the tensor occupies in the file.</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements (the product of the shape; 1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n *= d;
            return n;
        }
    }
}
