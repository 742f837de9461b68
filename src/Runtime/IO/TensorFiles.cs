namespace DiffusionKernels.Runtime.IO;

/// <summary>.npy files to and from backend tensors.</summary>
public static class TensorFiles
{
    /// <summary>Loads a .npy as a float32 tensor (float inputs) or an int64 tensor (integer inputs).</summary>
    public static Tensor LoadNpy(Backend backend, string path)
    {
        var a = Npy.Read(path);
        var shape = new Shape(a.Shape.Length == 0 ? [1] : a.Shape);
        return a.Floats is not null ? backend.Upload(a.Floats, shape) : backend.Upload(a.Longs!, shape);
    }

    /// <summary>Saves a tensor as .npy (atomically).</summary>
    public static void SaveNpy(string path, Tensor t)
    {
        if (t.DType == DType.Int64) Npy.Write(path, t.ToInt64Array(), t.Shape.ToArray());
        else Npy.Write(path, t.ToArray(), t.Shape.ToArray());
    }
}
