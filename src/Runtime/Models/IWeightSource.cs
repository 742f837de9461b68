namespace DiffusionKernels.Runtime.Models;

/// <summary>Named float tensors a model is built from (a safetensors file, or an in-memory dictionary in tests).</summary>
public interface IWeightSource : IDisposable
{
    /// <summary>The file or origin, for error messages.</summary>
    string Origin { get; }
    /// <summary>Every tensor name.</summary>
    IReadOnlyCollection<string> Names { get; }
    /// <summary>The stored shape of <paramref name="name"/>.</summary>
    int[] ShapeOf(string name);
    /// <summary>The tensor's values converted to float32.</summary>
    float[] ReadFloat32(string name);
}

/// <summary>An in-memory weight source.</summary>
/// <remarks>Thread safety: read-only; safe to share as long as the caller does not change the arrays.</remarks>
public sealed class DictionaryWeightSource(IReadOnlyDictionary<string, (int[] Shape, float[] Data)> tensors, string origin = "memory") : IWeightSource
{
    /// <inheritdoc/>
    public string Origin => origin;
    /// <inheritdoc/>
    public IReadOnlyCollection<string> Names => tensors.Keys.ToList();
    /// <inheritdoc/>
    public int[] ShapeOf(string name) => tensors[name].Shape;
    /// <inheritdoc/>
    public float[] ReadFloat32(string name) => tensors[name].Data;
    /// <summary>Nothing to release: the arrays belong to the caller.</summary>
    public void Dispose() { }
}
