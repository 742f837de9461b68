namespace DiffusionKernels.Runtime;

/// <summary>Element types a tensor can hold. Compute is float32; int64 carries labels and timesteps.</summary>
public enum DType
{
    /// <summary>32-bit IEEE floats: samples, weights, activations.</summary>
    Float32,
    /// <summary>64-bit integers: class labels and timesteps.</summary>
    Int64,
}

/// <summary>Facts about <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this DType dtype) => dtype == DType.Float32 ? sizeof(float) : sizeof(long);
}
