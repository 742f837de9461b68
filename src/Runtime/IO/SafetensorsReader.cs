using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace DiffusionKernels.Runtime.IO;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record TensorInfo(string Name, string DType, int[] Shape, long Begin, long End);

/// <summary>
/// Reads safetensors files (8-byte little-endian header length, JSON header, tightly packed data) and validates them
/// as the reference implementation does: bounded header, offsets contiguous from 0 covering the data section exactly,
/// byte length = elements × dtype size, no duplicate names. F32, F16, BF16 and F64 load as float32; I64 as int64.
/// Every failure is a <see cref="ModelFormatException"/> naming the file (and the tensor where there is one).
/// </summary>
public sealed class SafetensorsReader : IDisposable
{
    /// <summary>Largest header accepted, as the reference implementation.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly FileStream _file;
    private readonly Dictionary<string, TensorInfo> _byName;
    private readonly long _dataStart;

    private SafetensorsReader(string path, FileStream file, List<TensorInfo> tensors, Dictionary<string, string> metadata, long dataStart)
    {
        Path = path;
        _file = file;
        Tensors = tensors;
        Metadata = metadata;
        _dataStart = dataStart;
        _byName = tensors.ToDictionary(t => t.Name);
    }

    public string Path { get; }
    /// <summary>Entries in file order (sorted by offset).</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }
    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafetensorsReader Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        try
        {
            long length = file.Length;
            if (length < 8) throw Bad(path, $"file is {length} bytes, shorter than the 8-byte header length");
            Span<byte> prefix = stackalloc byte[8];
            file.ReadExactly(prefix);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (n > MaxHeaderBytes) throw Bad(path, $"header length {n} exceeds the {MaxHeaderBytes}-byte limit");
            if (8 + (long)n > length) throw Bad(path, $"header length {n} runs past the end of the {length}-byte file");
            var header = new byte[n];
            file.ReadExactly(header);
            var (tensors, metadata) = ParseHeader(path, header);
            long dataLength = length - 8 - (long)n;
            ValidateOffsets(path, tensors, dataLength);
            return new SafetensorsReader(path, file, tensors, metadata, 8 + (long)n);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The tensor's values as float32 (F32, F16, BF16, F64).</summary>
    public float[] ReadFloat32(string name)
    {
        var t = Get(name);
        var bytes = ReadBytes(t);
        var result = new float[bytes.Length / DTypeSize(t)];
        switch (t.DType)
        {
            case "F32":
                for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i));
                break;
            case "F16":
                for (int i = 0; i < result.Length; i++) result[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(2 * i));
                break;
            case "BF16":
                for (int i = 0; i < result.Length; i++) result[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i)) << 16);
                break;
            case "F64":
                for (int i = 0; i < result.Length; i++) result[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(8 * i));
                break;
            default:
                throw Bad(Path, $"dtype {t.DType} does not convert to float32", name);
        }
        return result;
    }

    /// <summary>The tensor's values as int64 (I64, or I32 widened).</summary>
    public long[] ReadInt64(string name)
    {
        var t = Get(name);
        var bytes = ReadBytes(t);
        return t.DType switch
        {
            "I64" => Enumerable.Range(0, bytes.Length / 8).Select(i => BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8 * i))).ToArray(),
            "I32" => Enumerable.Range(0, bytes.Length / 4).Select(i => (long)BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4 * i))).ToArray(),
            _ => throw Bad(Path, $"dtype {t.DType}, expected I64", name),
        };
    }

    private TensorInfo Get(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw Bad(Path, "no such tensor in the file", name);

    private byte[] ReadBytes(TensorInfo t)
    {
        var bytes = new byte[t.End - t.Begin];
        RandomAccess.Read(_file.SafeFileHandle, bytes, _dataStart + t.Begin);
        return bytes;
    }

    public void Dispose() => _file.Dispose();

    private static readonly Dictionary<string, int> Sizes = new()
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1, ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4, ["F64"] = 8, ["I64"] = 8, ["U64"] = 8, ["C64"] = 8,
    };

    private static int DTypeSize(TensorInfo t) => Sizes[t.DType];

    private static ModelFormatException Bad(string path, string message, string? tensor = null) =>
        new($"{path}: {(tensor is null ? "" : $"tensor '{tensor}': ")}{message}");

    private static (List<TensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] header)
    {
        var tensors = new List<TensorInfo>();
        var metadata = new Dictionary<string, string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(header);
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 8 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad(path, "header is not a JSON object");
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(entry.Name)) throw Bad(path, $"duplicate entry '{entry.Name}' in the header");
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind != JsonValueKind.Object) throw Bad(path, "__metadata__ is not an object of strings");
                    foreach (var m in entry.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw Bad(path, $"__metadata__ value '{m.Name}' is not a string");
                    continue;
                }
                tensors.Add(ParseEntry(path, entry.Name, entry.Value));
            }
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException or ArgumentException)
        {
            throw new ModelFormatException($"{path}: invalid header: {e.Message}", e);
        }
        return (tensors, metadata);
    }

    private static TensorInfo ParseEntry(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Bad(path, "entry is not an object", name);
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad(path, "missing or non-string 'dtype'", name);
        var dtype = dt.GetString()!;
        if (!Sizes.ContainsKey(dtype)) throw Bad(path, $"unsupported dtype '{dtype}'", name);
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad(path, "missing or non-array 'shape'", name);
        var shape = new List<int>();
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 0 || v > int.MaxValue) throw Bad(path, $"invalid dimension {d.GetRawText()} in shape", name);
            shape.Add((int)v);
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad(path, "missing 'data_offsets' [begin, end]", name);
        long Offset(JsonElement x) => x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out var v) && v >= 0 ? v : throw Bad(path, $"invalid offset {x.GetRawText()}", name);
        long begin = Offset(off[0]), end = Offset(off[1]);
        long elements = 1;
        try
        {
            foreach (var d in shape) elements = checked(elements * d);
            long bytes = checked(elements * Sizes[dtype]);
            if (end < begin) throw Bad(path, $"data_offsets [{begin}, {end}] end before begin", name);
            if (end - begin != bytes) throw Bad(path, $"shape {Shape.Format([.. shape])} of {dtype} needs {bytes} bytes, but data_offsets [{begin}, {end}] span {end - begin}", name);
        }
        catch (OverflowException)
        {
            throw Bad(path, $"shape {Shape.Format([.. shape])} overflows", name);
        }
        return new TensorInfo(name, dtype, [.. shape], begin, end);
    }

    private static void ValidateOffsets(string path, List<TensorInfo> tensors, long dataLength)
    {
        tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        foreach (var t in tensors)
        {
            if (t.Begin != expected)
                throw Bad(path, t.Begin < expected ? $"data_offsets [{t.Begin}, {t.End}] overlap the previous tensor (which ends at {expected})"
                                                   : $"data_offsets [{t.Begin}, {t.End}] leave a gap after offset {expected}", t.Name);
            expected = t.End;
        }
        if (expected != dataLength)
            throw Bad(path, expected < dataLength ? $"the data section is {dataLength} bytes but the tensors cover only {expected} (trailing bytes)"
                                                  : $"the tensors need {expected} data bytes but the file holds {dataLength} (truncated)");
    }
}
