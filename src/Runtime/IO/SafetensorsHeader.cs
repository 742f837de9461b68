using System.Text.Json;
using System.Text.Unicode;

namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// A parsed and validated safetensors header. Validation follows the reference implementation
/// (huggingface/safetensors, <c>read_metadata</c> and <c>Metadata::validate</c>): the header is UTF-8 JSON whose root
/// is an object; <c>__metadata__</c> is absent, null or an object of strings; every other member is
/// <c>{dtype, shape, data_offsets: [begin, end]}</c> with non-negative integers (other members are ignored);
/// sorted by offsets, the tensors start at 0 and follow each other without gap or overlap, each spans exactly
/// elements × dtype size bytes (checked arithmetic) and together they cover the data section to its end.
/// Stricter than the reference: duplicate names anywhere in the header are rejected (the reference keeps the last
/// tensor or metadata value of a name) and dimensions above 2^31-1 are rejected.
/// </summary>
internal sealed class SafetensorsHeader
{
    private readonly string _path;

    private SafetensorsHeader(string path, List<TensorInfo> tensors, Dictionary<string, string> metadata)
    {
        _path = path;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Entries sorted by offset (file order).</summary>
    public List<TensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent or null).</summary>
    public Dictionary<string, string> Metadata { get; }

    /// <summary>Parses <paramref name="header"/> and checks it against a data section of <paramref name="dataLength"/> bytes.</summary>
    public static SafetensorsHeader Parse(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        if (!Utf8.IsValid(header)) throw Bad(path, "the header is not valid UTF-8");
        var parsed = new SafetensorsHeader(path, [], []);
        try
        {
            parsed.ReadRoot(header);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: the header is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // GetString on an escape that decodes to invalid UTF-16 (a lone surrogate).
            throw new ModelFormatException($"{path}: the header holds an invalid string: {e.Message}", e);
        }
        parsed.Validate(dataLength);
        return parsed;
    }

    private void ReadRoot(ReadOnlySpan<byte> header)
    {
        var json = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
        json.Read(); // empty or blank input throws: "does not contain any JSON tokens"
        if (json.TokenType != JsonTokenType.StartObject) throw Bad(_path, $"the header is not a JSON object (it starts with {Describe(json.TokenType)})");
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (Next(ref json) == JsonTokenType.PropertyName)
        {
            var name = json.GetString()!;
            if (!names.Add(name)) throw Bad(_path, "the name appears twice in the header", name);
            json.Read();
            if (name == "__metadata__") ReadMetadata(ref json);
            else Tensors.Add(ReadEntry(ref json, name));
        }
        // Anything after the root object other than whitespace (the padding) makes Read throw.
        if (json.Read()) throw Bad(_path, "the header has content after its JSON object");
    }

    private void ReadMetadata(ref Utf8JsonReader json)
    {
        if (json.TokenType == JsonTokenType.Null) return;
        if (json.TokenType != JsonTokenType.StartObject) throw Bad(_path, $"__metadata__ is {Describe(json.TokenType)}, not an object of strings");
        while (Next(ref json) == JsonTokenType.PropertyName)
        {
            var key = json.GetString()!;
            json.Read();
            if (json.TokenType != JsonTokenType.String) throw Bad(_path, $"__metadata__ value '{key}' is {Describe(json.TokenType)}, not a string");
            if (!Metadata.TryAdd(key, json.GetString()!)) throw Bad(_path, $"__metadata__ key '{key}' appears twice");
        }
    }

    private TensorInfo ReadEntry(ref Utf8JsonReader json, string name)
    {
        if (json.TokenType != JsonTokenType.StartObject) throw Bad(_path, $"the entry is {Describe(json.TokenType)}, not an object", name);
        string? dtype = null;
        List<int>? shape = null;
        long[]? offsets = null;
        while (Next(ref json) == JsonTokenType.PropertyName)
        {
            var field = json.GetString()!;
            json.Read();
            switch (field)
            {
                case "dtype":
                    if (dtype is not null) throw Bad(_path, "'dtype' appears twice", name);
                    if (json.TokenType != JsonTokenType.String) throw Bad(_path, $"'dtype' is {Describe(json.TokenType)}, not a string", name);
                    dtype = json.GetString()!;
                    if (!SafetensorsDTypes.TryGetBits(dtype, out _)) throw Bad(_path, $"unknown dtype '{dtype}'", name);
                    break;
                case "shape":
                    if (shape is not null) throw Bad(_path, "'shape' appears twice", name);
                    shape = [];
                    foreach (var d in ReadIntegers(ref json, name, "shape"))
                        shape.Add(d <= int.MaxValue ? (int)d : throw Bad(_path, $"dimension {d} is larger than 2^31-1", name));
                    break;
                case "data_offsets":
                    if (offsets is not null) throw Bad(_path, "'data_offsets' appears twice", name);
                    var list = ReadIntegers(ref json, name, "data_offsets");
                    if (list.Count != 2) throw Bad(_path, $"'data_offsets' has {list.Count} numbers, not [begin, end]", name);
                    offsets = [.. list];
                    break;
                default:
                    json.Skip(); // the reference ignores members it does not know
                    break;
            }
        }
        if (dtype is null) throw Bad(_path, "the entry has no 'dtype'", name);
        if (shape is null) throw Bad(_path, "the entry has no 'shape'", name);
        if (offsets is null) throw Bad(_path, "the entry has no 'data_offsets'", name);
        return new TensorInfo(name, dtype, [.. shape], offsets[0], offsets[1]);
    }

    /// <summary>An array of non-negative integers no larger than long.MaxValue (no offset or size in a real file is).</summary>
    private List<long> ReadIntegers(ref Utf8JsonReader json, string name, string field)
    {
        if (json.TokenType != JsonTokenType.StartArray) throw Bad(_path, $"'{field}' is {Describe(json.TokenType)}, not an array", name);
        var values = new List<long>();
        while (Next(ref json) != JsonTokenType.EndArray)
        {
            if (json.TokenType != JsonTokenType.Number || !json.TryGetUInt64(out var v) || v > long.MaxValue)
                throw Bad(_path, $"'{field}' holds {Raw(ref json)}, not a non-negative integer", name);
            values.Add((long)v);
        }
        return values;
    }

    private void Validate(long dataLength)
    {
        // Sorted by (begin, end) as the reference does, so zero-length tensors come before a tensor at the same offset.
        Tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long covered = 0;
        foreach (var t in Tensors)
        {
            if (t.End < t.Begin) throw Bad(_path, $"data_offsets [{t.Begin}, {t.End}] end before they begin", t.Name);
            if (t.Begin < covered) throw Bad(_path, $"data_offsets [{t.Begin}, {t.End}] overlap the previous tensor, which ends at {covered}", t.Name);
            if (t.Begin > covered) throw Bad(_path, $"data_offsets [{t.Begin}, {t.End}] leave a gap of {t.Begin - covered} bytes after offset {covered}", t.Name);
            covered = t.End;
            long bytes = ByteSize(t);
            if (bytes != t.ByteLength)
                throw Bad(_path, $"shape {Runtime.Shape.Format(t.Shape)} of {t.DType} needs {bytes} bytes, but data_offsets [{t.Begin}, {t.End}] span {t.ByteLength}", t.Name);
        }
        if (covered < dataLength) throw Bad(_path, $"the data section is {dataLength} bytes but the tensors cover only {covered} (trailing bytes)");
        if (covered > dataLength) throw Bad(_path, $"the tensors need {covered} data bytes but the file holds {dataLength} (truncated)");
    }

    private long ByteSize(TensorInfo t)
    {
        SafetensorsDTypes.TryGetBits(t.DType, out int bitsPerElement);
        try
        {
            ulong elements = 1;
            foreach (var d in t.Shape) elements = checked(elements * (ulong)d);
            ulong bits = checked(elements * (ulong)bitsPerElement);
            if (bits % 8 != 0) throw Bad(_path, $"{elements} elements of the {bitsPerElement}-bit {t.DType} do not fill whole bytes", t.Name);
            return bits / 8 <= long.MaxValue ? (long)(bits / 8) : throw new OverflowException();
        }
        catch (OverflowException)
        {
            throw Bad(_path, $"the byte size of shape {Runtime.Shape.Format(t.Shape)} of {t.DType} overflows", t.Name);
        }
    }

    /// <summary>Advances to the next token (JSON syntax errors surface as JsonException).</summary>
    private static JsonTokenType Next(ref Utf8JsonReader json)
    {
        json.Read();
        return json.TokenType;
    }

    private static string Raw(ref Utf8JsonReader json) => json.TokenType switch
    {
        JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(json.ValueSpan),
        _ => Describe(json.TokenType),
    };

    private static string Describe(JsonTokenType t) => t switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => t.ToString(),
    };

    internal static ModelFormatException Bad(string path, string message, string? tensor = null) =>
        new($"{path}: {(tensor is null ? "" : $"tensor '{tensor}': ")}{message}");
}
