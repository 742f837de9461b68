namespace DiffusionKernels.Runtime;

/// <summary>Element types a tensor can hold. Compute is float32; int64 carries labels and timesteps.</summary>
public enum DType
{
    Float32,
    Int64,
}

/// <summary>Facts about <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this DType dtype) => dtype == DType.Float32 ? sizeof(float) : sizeof(long);
}
