using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Runtime.Models;

/// <summary>Weights read from a safetensors file (F32, F16, BF16 converted to float32 as they are read).</summary>
/// <remarks>Thread safety: reads are positional (see <see cref="SafetensorsReader"/>), so several threads may read at once; dispose after the last read.</remarks>
public sealed class SafetensorsWeightSource : IWeightSource
{
    private readonly SafetensorsReader _reader;
    private readonly Dictionary<string, TensorInfo> _tensors;

    /// <summary>Opens <paramref name="path"/> and reads its header (validated as <see cref="SafetensorsReader"/> does).</summary>
    /// <exception cref="ModelFormatException">The header is malformed.</exception>
    public SafetensorsWeightSource(string path)
    {
        _reader = SafetensorsReader.Open(path);
        _tensors = _reader.Tensors.ToDictionary(t => t.Name);
    }

    /// <inheritdoc/>
    public string Origin => _reader.Path;
    /// <inheritdoc/>
    public IReadOnlyCollection<string> Names => _tensors.Keys;
    /// <inheritdoc/>
    public int[] ShapeOf(string name) => _tensors[name].Shape;
    /// <inheritdoc/>
    public float[] ReadFloat32(string name) => _reader.ReadFloat32(name);
    /// <summary>Closes the file.</summary>
    public void Dispose() => _reader.Dispose();
}
