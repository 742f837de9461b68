using System.Globalization;
using System.Text.Json;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Samplers.Datasets;

/// <summary>
/// <c>manifest.json</c> of a dataset folder: its <see cref="DatasetSpec"/>, the shard it holds (none for a whole
/// dataset), the chunks written so far with their SHA-256, and whether the folder's range is complete. The file is
/// deterministic (no times, paths or host names), so an interrupted-and-resumed run, a merge of shards and one
/// uninterrupted run write the same bytes.
/// </summary>
internal sealed record DatasetManifest(DatasetSpec Spec, ShardSpec? Shard, IReadOnlyList<ChunkRecord> Chunks, bool Complete)
{
    /// <summary>The manifest's file name in a dataset folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>The format tag the manifest starts with.</summary>
    public const string Format = "dk-dataset/1";

    /// <summary>The chunks [First, End) this folder is to hold: its shard's, or all.</summary>
    public (int First, int End) ChunkRange => Shard?.ChunkRange(Spec.Layout.ChunkCount) ?? (0, Spec.Layout.ChunkCount);

    /// <summary>The samples [First, End) this folder is to hold.</summary>
    public (long First, long End) SampleRange
    {
        get
        {
            var (first, end) = ChunkRange;
            var layout = Spec.Layout;
            return first == end ? (layout.First(first), layout.First(first)) : (layout.First(first), layout.First(end - 1) + layout.Count(end - 1));
        }
    }

    /// <summary>The manifest as UTF-8 JSON (two-space indents, keys in a fixed order, a final newline).</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteString("engine", Spec.Engine);
            w.WriteString("model_sha256", Spec.ModelSha256);
            w.WriteNumber("seed", Spec.Seed);
            w.WriteNumber("num_samples", Spec.NumSamples);
            w.WriteStartArray("sample_shape");
            foreach (var d in Spec.SampleShape) w.WriteNumberValue(d);
            w.WriteEndArray();
            w.WriteString("dtype", "float32");
            w.WriteNumber("chunk_size", Spec.ChunkSize);
            w.WriteString("images", Spec.Images ? "png" : "none");
            w.WriteStartObject("settings");
            foreach (var (k, v) in Spec.Settings.OrderBy(p => p.Key, StringComparer.Ordinal)) w.WriteString(k, v);
            w.WriteEndObject();
            if (Shard is not null)
            {
                w.WriteStartObject("shard");
                w.WriteNumber("index", Shard.Index);
                w.WriteNumber("count", Shard.Count);
                w.WriteEndObject();
            }
            var (first, end) = SampleRange;
            w.WriteStartObject("samples");
            w.WriteNumber("first", first);
            w.WriteNumber("end", end);
            w.WriteEndObject();
            w.WriteStartArray("chunks");
            foreach (var c in Chunks)
            {
                w.WriteStartObject();
                w.WriteNumber("index", c.Index);
                w.WriteString("file", c.File);
                w.WriteNumber("first", c.First);
                w.WriteNumber("count", c.Count);
                w.WriteString("sha256", c.Sha256);
                if (c.ImagesSha256 is not null) w.WriteString("images_sha256", c.ImagesSha256);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteBoolean("complete", Complete);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>Writes the manifest into <paramref name="folder"/> atomically.</summary>
    public void Save(string folder)
    {
        var bytes = ToJson();
        AtomicFile.Write(Path.Combine(folder, FileName), s => s.Write(bytes));
    }

    /// <summary>Reads <c>manifest.json</c> of <paramref name="folder"/>, checking its structure and that its chunks fit its spec.</summary>
    /// <exception cref="DatasetException">The manifest is missing, does not parse, or contradicts itself.</exception>
    public static DatasetManifest Load(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) throw new DatasetException($"{folder} holds no {FileName}: it is not a dataset folder dk wrote");
        string text;
        try
        {
            text = RegularFile.ReadAllText(path, "dataset manifest", maxBytes: 1 << 30);
        }
        catch (Runtime.ModelFormatException e)
        {
            throw new DatasetException($"{path}: {e.Message}", e);
        }
        try
        {
            using var doc = JsonDocument.Parse(text);
            return Read(doc.RootElement, path);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException or ArgumentException)
        {
            throw new DatasetException($"{path}: not a valid dataset manifest ({e.Message})", e);
        }
    }

    private static DatasetManifest Read(JsonElement root, string path)
    {
        string format = root.GetProperty("format").GetString()!;
        if (format != Format) throw new DatasetException($"{path}: format '{format}' is not {Format}");
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in root.GetProperty("settings").EnumerateObject()) settings[p.Name] = p.Value.GetString()!;
        var images = root.GetProperty("images").GetString();
        if (images is not ("png" or "none")) throw new DatasetException($"{path}: images must be png or none, found '{images}'");
        var spec = new DatasetSpec(
            root.GetProperty("model_sha256").GetString()!,
            root.GetProperty("seed").GetUInt64(),
            root.GetProperty("num_samples").GetInt64(),
            [.. root.GetProperty("sample_shape").EnumerateArray().Select(e => e.GetInt32())],
            root.GetProperty("chunk_size").GetInt32(),
            images == "png",
            settings)
        { Engine = root.GetProperty("engine").GetString()! };
        var shard = root.TryGetProperty("shard", out var s) ? new ShardSpec(s.GetProperty("index").GetInt32(), s.GetProperty("count").GetInt32()) : null;
        var chunks = root.GetProperty("chunks").EnumerateArray().Select(c => new ChunkRecord(
            c.GetProperty("index").GetInt32(), c.GetProperty("file").GetString()!, c.GetProperty("first").GetInt64(), c.GetProperty("count").GetInt32(),
            c.GetProperty("sha256").GetString()!, c.TryGetProperty("images_sha256", out var ih) ? ih.GetString() : null)).ToList();
        var manifest = new DatasetManifest(spec, shard, chunks, root.GetProperty("complete").GetBoolean());
        manifest.CheckChunks(path);
        return manifest;
    }

    /// <summary>Every chunk record must be the layout's chunk of that index, inside this folder's range, listed once.</summary>
    private void CheckChunks(string path)
    {
        var layout = Spec.Layout;
        var (first, end) = ChunkRange;
        var seen = new HashSet<int>();
        foreach (var c in Chunks)
        {
            if (c.Index < first || c.Index >= end)
                throw new DatasetException($"{path}: chunk {c.Index} lies outside this folder's chunks {first} … {end - 1}");
            if (!seen.Add(c.Index)) throw new DatasetException($"{path}: chunk {c.Index} is listed twice");
            if (c.File != DatasetLayout.ChunkFile(c.Index) || c.First != layout.First(c.Index) || c.Count != layout.Count(c.Index))
                throw new DatasetException($"{path}: chunk {c.Index} is listed as {c.File} with samples {c.First} + {c.Count}; the layout says {DatasetLayout.ChunkFile(c.Index)} with {layout.First(c.Index)} + {layout.Count(c.Index)}");
            if (c.Sha256.Length != 64 || (Spec.Images != (c.ImagesSha256 is not null)))
                throw new DatasetException($"{path}: chunk {c.Index} has a malformed hash entry");
        }
        if (Complete && seen.Count != end - first)
            throw new DatasetException($"{path}: marked complete but lists {seen.Count} of its {end - first} chunks");
    }

    /// <summary>Describes the folder's progress for messages: "3 of 10 chunks (3,000 of 10,000 samples)".</summary>
    public string Describe()
    {
        var (first, end) = ChunkRange;
        var (s0, s1) = SampleRange;
        long done = Chunks.Sum(c => (long)c.Count);
        return string.Create(CultureInfo.InvariantCulture, $"{Chunks.Count} of {end - first} chunks ({done:N0} of {s1 - s0:N0} samples)");
    }
}
