namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// An array read from a .npy file: <paramref name="Floats"/> for float32/float64/float16/bool/uint8 files,
/// <paramref name="Longs"/> for int64/int32 files (exactly one is set). <paramref name="Shape"/> is empty for a
/// scalar; <paramref name="DType"/> is numpy's name of the stored type ("float32", "int64", "bool", ...).
/// </summary>
public sealed record NpyArray(int[] Shape, string DType, float[]? Floats, long[]? Longs)
{
    /// <summary>Number of elements (1 for a scalar).</summary>
    public int Length => Floats?.Length ?? Longs!.Length;

    /// <summary>The values as float32 (integer arrays are converted).</summary>
    public float[] AsFloat32() => Floats ?? Array.ConvertAll(Longs!, v => (float)v);
}
