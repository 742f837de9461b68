using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Samplers.Datasets;

/// <summary>Draws samples [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) of the dataset's seed.</summary>
internal delegate float[] DrawSamples(long first, int count);

/// <summary>Saves sample <paramref name="index"/> of <paramref name="samples"/> (one chunk, [count, ..shape]) as an image at <paramref name="path"/>, atomically.</summary>
internal delegate void SaveImage(string path, float[] samples, int index);

/// <summary>
/// Writes a dataset folder chunk by chunk, so memory holds one chunk whatever the sample count, and a run killed at any
/// moment loses at most the chunk in progress. Per chunk: its images (each written atomically), then its .npy (atomically),
/// then the manifest listing it with its SHA-256 (atomically). A file without a manifest entry is redrawn by a resumed run;
/// a listed file must match its hash. Chunk k's bytes depend on the spec only, so a resumed run's folder equals an
/// uninterrupted one's byte for byte.
/// </summary>
/// <remarks>One writer per folder at a time.</remarks>
internal sealed class DatasetWriter
{
    private readonly string _folder;
    private readonly List<ChunkRecord> _chunks;

    private DatasetWriter(string folder, DatasetManifest manifest)
    {
        _folder = folder;
        Manifest = manifest;
        _chunks = [.. manifest.Chunks];
    }

    /// <summary>The manifest as it stands (updated after every chunk).</summary>
    public DatasetManifest Manifest { get; private set; }

    /// <summary>Called with a phase name ("chunk-K:images", "chunk-K:npy", "chunk-K:manifest") as each step of a chunk completes: for tests that stop a run there.</summary>
    public Action<string>? Phase { get; set; }

    /// <summary>The chunks of this folder's range not written yet, in order.</summary>
    public IReadOnlyList<int> Pending
    {
        get
        {
            var (first, end) = Manifest.ChunkRange;
            var done = _chunks.Select(c => c.Index).ToHashSet();
            return [.. Enumerable.Range(first, end - first).Where(k => !done.Contains(k))];
        }
    }

    /// <summary>
    /// Starts a new dataset in <paramref name="folder"/> (which must exist and hold no dataset) for <paramref name="spec"/>,
    /// restricted to <paramref name="shard"/> when given, and writes its empty manifest.
    /// </summary>
    public static DatasetWriter Create(string folder, DatasetSpec spec, ShardSpec? shard)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (File.Exists(Path.Combine(folder, DatasetManifest.FileName))) throw new DatasetException($"{folder} already holds a dataset ({DatasetManifest.FileName})");
        var manifest = new DatasetManifest(spec, shard, [], false);
        manifest = manifest with { Complete = manifest.ChunkRange.First == manifest.ChunkRange.End };
        manifest.Save(folder);
        return new DatasetWriter(folder, manifest);
    }

    /// <summary>
    /// Continues the dataset in <paramref name="folder"/>: its manifest must record <paramref name="spec"/> and
    /// <paramref name="shard"/>, and every chunk it lists must be present with its hash. Temporary files of dead writers are removed.
    /// </summary>
    /// <exception cref="DatasetException">The settings differ, or a listed chunk or image is missing or changed.</exception>
    public static DatasetWriter Resume(string folder, DatasetSpec spec, ShardSpec? shard)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var manifest = DatasetManifest.Load(folder);
        var differences = manifest.Spec.Differences(spec).ToList();
        if (manifest.Shard?.ToString() != shard?.ToString()) differences.Add($"shard: {manifest.Shard?.ToString() ?? "(whole dataset)"} vs {shard?.ToString() ?? "(whole dataset)"}");
        if (differences.Count > 0)
            throw new DatasetException($"{folder} was written with other settings; resuming would mix two datasets. Differences (manifest vs this run): {string.Join("; ", differences)}");
        StrayTemporaries.Clean(folder);
        StrayTemporaries.Clean(Path.Combine(folder, DatasetLayout.ImageFolder));
        foreach (var chunk in manifest.Chunks) Verify(folder, manifest.Spec, chunk);
        return new DatasetWriter(folder, manifest);
    }

    /// <summary>Checks that <paramref name="chunk"/>'s files in <paramref name="folder"/> are present and match their hashes.</summary>
    /// <exception cref="DatasetException">A file is missing or its bytes differ from the manifest's hash.</exception>
    public static void Verify(string folder, DatasetSpec spec, ChunkRecord chunk)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(chunk);
        var path = Path.Combine(folder, chunk.File);
        if (!File.Exists(path)) throw new DatasetException($"{path} is missing: the manifest lists it as chunk {chunk.Index} (samples {chunk.First} … {chunk.First + chunk.Count - 1})");
        var actual = FileHash.Of(path);
        if (actual != chunk.Sha256)
            throw new DatasetException($"{path} has been changed or damaged: its SHA-256 is {actual}, the manifest records {chunk.Sha256}");
        if (!spec.Images) return;
        var images = ImageFiles(chunk.First, chunk.Count);
        foreach (var image in images)
            if (!File.Exists(Path.Combine(folder, image))) throw new DatasetException($"{Path.Combine(folder, image)} is missing: chunk {chunk.Index}'s images are incomplete");
        var imagesHash = FileHash.OfFiles(folder, images);
        if (imagesHash != chunk.ImagesSha256)
            throw new DatasetException($"{folder}: the images of chunk {chunk.Index} (samples {chunk.First} … {chunk.First + chunk.Count - 1}) have been changed or damaged: SHA-256 {imagesHash}, the manifest records {chunk.ImagesSha256}");
    }

    /// <summary>The image files of samples [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>), relative to the folder.</summary>
    public static IReadOnlyList<string> ImageFiles(long first, int count) => [.. Enumerable.Range(0, count).Select(j => DatasetLayout.ImageFile(first + j))];

    /// <summary>
    /// Draws and writes every pending chunk in order; <paramref name="written"/> is told after each. Cancellation (from
    /// <paramref name="draw"/> or <paramref name="cancel"/>) stops between chunks or inside one, keeping every finished chunk.
    /// </summary>
    /// <exception cref="OperationCanceledException">The run was cancelled; the folder can be resumed.</exception>
    public void WriteAll(DrawSamples draw, SaveImage? saveImage, Action<ChunkRecord>? written = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(draw);
        foreach (int k in Pending)
        {
            cancel.ThrowIfCancellationRequested();
            var layout = Manifest.Spec.Layout;
            var samples = draw(layout.First(k), layout.Count(k));
            cancel.ThrowIfCancellationRequested();
            // Not written?.Invoke(Write(…)): a null-conditional call would skip evaluating its argument.
            var record = Write(k, samples, saveImage);
            written?.Invoke(record);
        }
    }

    /// <summary>Writes chunk <paramref name="chunk"/> from its <paramref name="samples"/> ([count, ..shape]) and records it in the manifest.</summary>
    public ChunkRecord Write(int chunk, float[] samples, SaveImage? saveImage)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var spec = Manifest.Spec;
        var layout = spec.Layout;
        var (first, end) = Manifest.ChunkRange;
        if (chunk < first || chunk >= end) throw new ArgumentOutOfRangeException(nameof(chunk), $"chunk {chunk} lies outside this folder's chunks {first} … {end - 1}");
        int count = layout.Count(chunk);
        long per = spec.SampleShape.Aggregate(1L, (a, b) => a * b);
        if (samples.LongLength != count * per)
            throw new ArgumentException($"chunk {chunk} needs {count} samples of {per} values, found {samples.LongLength} values", nameof(samples));
        string? imagesHash = null;
        if (spec.Images)
        {
            if (saveImage is null) throw new ArgumentNullException(nameof(saveImage), "the dataset's spec asks for images");
            Directory.CreateDirectory(Path.Combine(_folder, DatasetLayout.ImageFolder));
            var images = ImageFiles(layout.First(chunk), count);
            for (int j = 0; j < count; j++) saveImage(Path.Combine(_folder, images[j]), samples, j);
            imagesHash = FileHash.OfFiles(_folder, images);
            Phase?.Invoke($"chunk-{chunk}:images");
        }
        var file = DatasetLayout.ChunkFile(chunk);
        var path = Path.Combine(_folder, file);
        Npy.Write(path, samples, [count, .. spec.SampleShape]);
        var record = new ChunkRecord(chunk, file, layout.First(chunk), count, FileHash.Of(path), imagesHash);
        Phase?.Invoke($"chunk-{chunk}:npy");
        _chunks.RemoveAll(c => c.Index == chunk);
        _chunks.Add(record);
        _chunks.Sort((a, b) => a.Index.CompareTo(b.Index));
        Manifest = Manifest with { Chunks = [.. _chunks], Complete = _chunks.Count == end - first };
        Manifest.Save(_folder);
        Phase?.Invoke($"chunk-{chunk}:manifest");
        return record;
    }
}
