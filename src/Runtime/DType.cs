namespace DiffusionKernels.Runtime;

/// <summary>Element types a tensor can hold. Compute is float32; int64 carries labels and timesteps.</summary>
public enum DType
{
    Float32,
    Int64,
}
