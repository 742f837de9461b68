namespace DiffusionKernels.Samplers.Datasets;

/// <summary>
/// Joins the folders of a sharded dataset into the folder one unsharded run writes: each input must be complete, all must
/// share one <see cref="DatasetSpec"/> and shard count, and together they must hold every chunk exactly once. Chunk and
/// image files are copied as they are and checked against their hashes after copying, so the result is byte for byte
/// the single run's.
/// </summary>
internal static class DatasetMerger
{
    /// <summary>Checks <paramref name="inputs"/> and returns the merged manifest, without writing anything.</summary>
    /// <exception cref="DatasetException">An input is incomplete, differs in its settings, overlaps another, or chunks are missing.</exception>
    public static DatasetManifest Plan(IReadOnlyList<string> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) throw new ArgumentException("merging needs at least one dataset folder", nameof(inputs));
        var manifests = inputs.Select(DatasetManifest.Load).ToList();
        var first = manifests[0];
        for (int i = 0; i < manifests.Count; i++)
        {
            var m = manifests[i];
            if (!m.Complete)
                throw new DatasetException($"{inputs[i]} is incomplete: it holds {m.Describe()}; finish it (resume the run) before merging");
            var differences = first.Spec.Differences(m.Spec);
            if (differences.Count > 0)
                throw new DatasetException($"{inputs[i]} was written with other settings than {inputs[0]}: {string.Join("; ", differences)}");
            if (m.Shard?.Count != first.Shard?.Count)
                throw new DatasetException($"{inputs[i]} is {Name(m)} but {inputs[0]} is {Name(first)}: shards of different splits do not merge");
        }
        var owner = new Dictionary<int, int>();
        for (int i = 0; i < manifests.Count; i++)
        {
            foreach (var c in manifests[i].Chunks)
                if (!owner.TryAdd(c.Index, i))
                    throw new DatasetException($"{inputs[i]} ({Name(manifests[i])}) and {inputs[owner[c.Index]]} ({Name(manifests[owner[c.Index]])}) both hold chunk {c.Index} (samples {c.First} … {c.First + c.Count - 1}); give each shard once");
        }
        var layout = first.Spec.Layout;
        var missing = Enumerable.Range(0, layout.ChunkCount).Where(k => !owner.ContainsKey(k)).ToList();
        if (missing.Count > 0)
        {
            var missingShards = first.Shard is { } s
                ? Enumerable.Range(0, s.Count).Where(i => manifests.All(m => m.Shard!.Index != i)).Select(i => $"{i}/{s.Count}").ToList()
                : [];
            throw new DatasetException($"the shards given do not cover the dataset: chunks {Ranges(missing)} of 0 … {layout.ChunkCount - 1} are missing"
                                       + (missingShards.Count > 0 ? $" (shard{(missingShards.Count > 1 ? "s" : "")} {string.Join(", ", missingShards)} not given)" : ""));
        }
        var chunks = manifests.SelectMany(m => m.Chunks).OrderBy(c => c.Index).ToList();
        return new DatasetManifest(first.Spec, Shard: null, chunks, Complete: true);
    }

    /// <summary>
    /// Checks <paramref name="inputs"/> (<see cref="Plan"/>), copies their chunks (and images) into the existing empty
    /// folder <paramref name="target"/>, verifies every copy's hash and writes the merged manifest.
    /// </summary>
    /// <returns>The merged manifest.</returns>
    public static DatasetManifest Merge(IReadOnlyList<string> inputs, string target, Action<ChunkRecord>? copied = null)
    {
        var merged = Plan(inputs);
        var from = new Dictionary<int, string>();
        foreach (var input in inputs)
            foreach (var c in DatasetManifest.Load(input).Chunks) from[c.Index] = input;
        if (merged.Spec.Images) Directory.CreateDirectory(Path.Combine(target, DatasetLayout.ImageFolder));
        foreach (var chunk in merged.Chunks)
        {
            var source = from[chunk.Index];
            File.Copy(Path.Combine(source, chunk.File), Path.Combine(target, chunk.File));
            if (merged.Spec.Images)
                foreach (var image in DatasetWriter.ImageFiles(chunk.First, chunk.Count))
                    File.Copy(Path.Combine(source, image), Path.Combine(target, image));
            try
            {
                DatasetWriter.Verify(target, merged.Spec, chunk);
            }
            catch (DatasetException e)
            {
                throw new DatasetException($"{source}: chunk {chunk.Index} does not match its manifest ({e.Message})", e);
            }
            copied?.Invoke(chunk);
        }
        merged.Save(target);
        return merged;
    }

    private static string Name(DatasetManifest m) => m.Shard is { } s ? $"shard {s}" : "a whole dataset";

    private static string Ranges(List<int> values)
    {
        var parts = new List<string>();
        for (int i = 0; i < values.Count;)
        {
            int j = i;
            while (j + 1 < values.Count && values[j + 1] == values[j] + 1) j++;
            parts.Add(i == j ? $"{values[i]}" : $"{values[i]} … {values[j]}");
            i = j + 1;
        }
        return string.Join(", ", parts);
    }
}
