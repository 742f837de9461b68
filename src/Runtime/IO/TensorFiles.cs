namespace DiffusionKernels.Runtime.IO;

/// <summary>.npy files to and from backend tensors.</summary>
internal static class TensorFiles
{
    /// <summary>
    /// Loads a .npy as a float32 tensor (float, bool and uint8 files) or an int64 tensor (int64 and int32 files).
    /// A scalar becomes shape [1].
    /// </summary>
    /// <exception cref="ModelFormatException">The file is malformed, or the array has no elements (tensors cannot be empty).</exception>
    public static Tensor LoadNpy(Backend backend, string path)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var a = Npy.Read(path);
        if (a.Length == 0) throw new ModelFormatException($"{path}: the array of shape {Shape.Format(a.Shape)} has no elements, and a tensor cannot be empty");
        var shape = new Shape(a.Shape.Length == 0 ? [1] : a.Shape);
        return a.Floats is not null ? backend.Upload(a.Floats, shape) : backend.Upload(a.Longs!, shape);
    }

    /// <summary>Saves a tensor as .npy ('&lt;f4' or '&lt;i8'), atomically.</summary>
    public static void SaveNpy(string path, Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.DType == DType.Int64) Npy.Write(path, t.ToInt64Array(), t.Shape.ToArray());
        else Npy.Write(path, t.ToArray(), t.Shape.ToArray());
    }
}
