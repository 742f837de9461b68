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
public sealed class DictionaryWeightSource(IReadOnlyDictionary<string, (int[] Shape, float[] Data)> tensors, string origin = "memory") : IWeightSource
{
    public string Origin => origin;
    public IReadOnlyCollection<string> Names => tensors.Keys.ToList();
    public int[] ShapeOf(string name) => tensors[name].Shape;
    public float[] ReadFloat32(string name) => tensors[name].Data;
    public void Dispose() { }
}
