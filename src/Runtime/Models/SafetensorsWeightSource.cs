using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Runtime.Models;

/// <summary>Weights read from a safetensors file (F32, F16, BF16 converted to float32 as they are read).</summary>
public sealed class SafetensorsWeightSource : IWeightSource
{
    private readonly SafetensorsReader _reader;
    private readonly Dictionary<string, TensorInfo> _tensors;

    public SafetensorsWeightSource(string path)
    {
        _reader = SafetensorsReader.Open(path);
        _tensors = _reader.Tensors.ToDictionary(t => t.Name);
    }

    public string Origin => _reader.Path;
    public IReadOnlyCollection<string> Names => _tensors.Keys;
    public int[] ShapeOf(string name) => _tensors[name].Shape;
    public float[] ReadFloat32(string name) => _reader.ReadFloat32(name);
    public void Dispose() => _reader.Dispose();
}
