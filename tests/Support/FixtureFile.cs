using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Tests.Support;

/// <summary>A committed safetensors fixture: named arrays plus string metadata (the op's parameters).</summary>
public sealed class FixtureFile : IDisposable
{
    private readonly SafetensorsReader _reader;

    public FixtureFile(params string[] relative) => _reader = SafetensorsReader.Open(Fixtures.Path(relative));

    public float[] Floats(string name) => _reader.ReadFloat32(name);
    public long[] Longs(string name) => _reader.ReadInt64(name);
    public int[] ShapeOf(string name) => _reader.Tensors.Single(t => t.Name == name).Shape;
    public bool Has(string name) => _reader.Tensors.Any(t => t.Name == name);
    public string Meta(string key) => _reader.Metadata[key];
    public int MetaInt(string key) => int.Parse(Meta(key), System.Globalization.CultureInfo.InvariantCulture);
    public float MetaFloat(string key) => float.Parse(Meta(key), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Uploads a float array to <paramref name="b"/> with its stored shape.</summary>
    public Tensor Upload(Backend b, string name) => b.Upload(Floats(name), new Shape(ShapeOf(name)));

    public void Dispose() => _reader.Dispose();
}
