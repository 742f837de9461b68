using System.Buffers.Binary;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DiffusionKernels.Runtime.IO;

/// <summary>Storage types the writer can produce from float32 data.</summary>
public enum SafetensorsDType
{
    /// <summary>IEEE float32, stored as given.</summary>
    F32,
    /// <summary>IEEE float16, rounded to nearest even (overflow gives ±infinity).</summary>
    F16,
    /// <summary>bfloat16, rounded to nearest even.</summary>
    BF16,
}

/// <summary>
/// Collects tensors and string metadata, then writes a safetensors file atomically (a temporary file in the same
/// folder, then a rename). As in the reference implementation the header is padded with spaces to a multiple of
/// 8 bytes and the tensors are laid out by decreasing dtype alignment, then by name, so each one starts aligned.
/// </summary>
/// <remarks>Thread safety: a builder for one thread; <see cref="Save"/> writes atomically, so readers never see half a file.</remarks>
public sealed class SafetensorsWriter
{
    private readonly List<Entry> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, string> _metadata = new(StringComparer.Ordinal);

    private sealed record Entry(string Name, string DType, int[] Shape, byte[] Data);

    /// <summary>Adds (or replaces) a <c>__metadata__</c> entry.</summary>
    public SafetensorsWriter AddMetadata(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        _metadata[key] = value;
        return this;
    }

    /// <summary>Adds a float tensor stored as <paramref name="dtype"/>.</summary>
    public SafetensorsWriter Add(string name, ReadOnlySpan<float> data, int[] shape, SafetensorsDType dtype = SafetensorsDType.F32)
    {
        CheckNew(name, data.Length, shape);
        byte[] bytes;
        switch (dtype)
        {
            case SafetensorsDType.F32:
                bytes = LittleEndian.GetBytes(data);
                break;
            case SafetensorsDType.F16:
                bytes = new byte[2 * data.Length];
                for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(2 * i), (Half)data[i]);
                break;
            case SafetensorsDType.BF16:
                bytes = new byte[2 * data.Length];
                for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), BFloat16.FromSingle(data[i]));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype");
        }
        Keep(name, dtype.ToString(), shape, bytes);
        return this;
    }

    /// <summary>Adds an int64 tensor (I64).</summary>
    public SafetensorsWriter Add(string name, ReadOnlySpan<long> data, int[] shape)
    {
        CheckNew(name, data.Length, shape);
        Keep(name, "I64", shape, LittleEndian.GetBytes(data));
        return this;
    }

    /// <summary>Writes the file; an existing file is replaced only once the new one is complete.</summary>
    public void Save(string path)
    {
        // The reference's order: larger dtypes first (I64, F32, BF16, F16 is its enum order, descending), then by name.
        var ordered = _tensors.OrderByDescending(t => Rank(t.DType)).ThenBy(t => t.Name, Utf8Order.Instance).ToList();
        var header = HeaderJson(ordered);
        int padded = (header.Length + 7) / 8 * 8;
        if (padded > SafetensorsReader.MaxHeaderBytes)
            throw new InvalidOperationException($"{path}: the header would be {padded} bytes, above the {SafetensorsReader.MaxHeaderBytes}-byte limit of readers");
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
            stream.Write(prefix);
            stream.Write(header);
            for (int i = header.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var t in ordered) stream.Write(t.Data);
        });
    }

    private byte[] HeaderJson(List<Entry> ordered)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps names like "a+b" readable; the header is never embedded in HTML.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (_metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in _metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in ordered)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType);
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static int Rank(string dtype) => dtype switch { "I64" => 3, "F32" => 2, "BF16" => 1, _ => 0 };

    private void CheckNew(string name, int length, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (name == "__metadata__") throw new ArgumentException("safetensors writer: '__metadata__' is reserved and cannot name a tensor", nameof(name));
        if (_names.Contains(name)) throw new ArgumentException($"safetensors writer: tensor '{name}' added twice", nameof(name));
        if (WriterShapes.ElementCount(shape) != length)
            throw new ArgumentException($"safetensors writer: tensor '{name}' has {length} values for shape {Shape.Format(shape)}", nameof(shape));
    }

    private void Keep(string name, string dtype, int[] shape, byte[] data)
    {
        _names.Add(name);
        _tensors.Add(new Entry(name, dtype, (int[])shape.Clone(), data));
    }

    /// <summary>Byte-wise order of the UTF-8 encodings, as Rust compares strings.</summary>
    private sealed class Utf8Order : IComparer<string>
    {
        public static readonly Utf8Order Instance = new();
        public int Compare(string? x, string? y) => Encoding.UTF8.GetBytes(x!).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y!));
    }
}
