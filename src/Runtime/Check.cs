namespace DiffusionKernels.Runtime;

/// <summary>Argument checks shared by the backend's ops; every message names the op.</summary>
internal static class Check
{
    public static void Owned(Backend backend, string op, params Tensor?[] tensors)
    {
        backend.ThrowIfDisposed();
        foreach (var t in tensors)
        {
            if (t is null) continue;
            if (!ReferenceEquals(t.Backend, backend))
                throw new ArgumentException($"{op}: tensor {t.Shape} lives on '{t.Backend.Name}', not on '{backend.Name}'");
            if (t.Storage.IsDisposed)
                throw new ObjectDisposedException(nameof(Tensor), $"{op}: tensor {t.Shape} on {t.Backend.Name} has been disposed");
        }
    }

    public static void DType(string op, Tensor t, DType expected, string name = "tensor")
    {
        if (t.DType != expected) throw new DTypeMismatchException($"{op}: {name} {t.Shape} must be {expected}, found {t.DType}");
    }

    public static void Rank(string op, Tensor t, int rank, string name)
    {
        if (t.Rank != rank) throw ShapeMismatchException.For(op, $"{name} rank", $"{rank} dimensions", $"{t.Shape}");
    }

    public static void Same(string op, Tensor a, string aName, Tensor b, string bName)
    {
        if (a.Shape != b.Shape) throw new ShapeMismatchException($"{op}: {aName} {a.Shape} and {bName} {b.Shape} must have the same shape");
    }

    public static void Shape(string op, Tensor t, string name, params int[] expected)
    {
        var e = new Shape(expected);
        if (t.Shape != e) throw ShapeMismatchException.For(op, name, e, t.Shape);
    }

    public static void Float(string op, params (Tensor? t, string name)[] tensors)
    {
        foreach (var (t, name) in tensors)
            if (t is not null) DType(op, t, Runtime.DType.Float32, name);
    }

    public static void Known<T>(string op, T value, string what) where T : struct, Enum
    {
        if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(what, value, $"{op}: unknown {what} {Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)}");
    }
}
