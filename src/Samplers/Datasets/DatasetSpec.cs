using System.Globalization;
using System.Reflection;

namespace DiffusionKernels.Samplers.Datasets;

/// <summary>
/// Everything that fixes a dataset's bytes: the engine, the model (by hash), the seed, the sample count and shape, the
/// chunking, whether images are written, and the sampling settings. Two runs with equal specs write equal files; a
/// resumed run and the shards of a merge must have equal specs.
/// </summary>
/// <param name="ModelSha256">The model's fingerprint (<see cref="ModelFingerprint"/>).</param>
/// <param name="Seed">The noise seed: sample n of the dataset is sample n of this seed.</param>
/// <param name="NumSamples">Samples in the whole dataset (all shards).</param>
/// <param name="SampleShape">The shape of one sample.</param>
/// <param name="ChunkSize">Samples per chunk file.</param>
/// <param name="Images">Whether every sample also gets a PNG.</param>
/// <param name="Settings">The sampling settings as name → value text (sampler, steps, grid, device kind, …).</param>
internal sealed record DatasetSpec(string ModelSha256, ulong Seed, long NumSamples, int[] SampleShape, int ChunkSize, bool Images, IReadOnlyDictionary<string, string> Settings)
{
    /// <summary>The engine that writes the dataset: its name and informational version (with the source revision when built from git).</summary>
    public string Engine { get; init; } = EngineVersion;

    /// <summary>This engine's name and version.</summary>
    public static string EngineVersion { get; } =
        "DiffusionKernels " + (typeof(DatasetSpec).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                              ?? typeof(DatasetSpec).Assembly.GetName().Version?.ToString() ?? "unknown");

    /// <summary>The chunking this spec implies.</summary>
    public DatasetLayout Layout => new(NumSamples, ChunkSize);

    /// <summary>The ways <paramref name="other"/> differs from this spec, one "name: this vs other" line each (empty when equal).</summary>
    public IReadOnlyList<string> Differences(DatasetSpec other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var found = new List<string>();
        void Compare(string name, string a, string b)
        {
            if (a != b) found.Add($"{name}: {a} vs {b}");
        }
        Compare("engine", Engine, other.Engine);
        Compare("model_sha256", ModelSha256, other.ModelSha256);
        Compare("seed", Seed.ToString(CultureInfo.InvariantCulture), other.Seed.ToString(CultureInfo.InvariantCulture));
        Compare("num_samples", NumSamples.ToString(CultureInfo.InvariantCulture), other.NumSamples.ToString(CultureInfo.InvariantCulture));
        Compare("sample_shape", $"[{string.Join(", ", SampleShape)}]", $"[{string.Join(", ", other.SampleShape)}]");
        Compare("chunk_size", ChunkSize.ToString(CultureInfo.InvariantCulture), other.ChunkSize.ToString(CultureInfo.InvariantCulture));
        Compare("images", Images ? "png" : "none", other.Images ? "png" : "none");
        foreach (var key in Settings.Keys.Union(other.Settings.Keys).Order(StringComparer.Ordinal))
            Compare($"settings.{key}", Settings.GetValueOrDefault(key) ?? "(unset)", other.Settings.GetValueOrDefault(key) ?? "(unset)");
        return found;
    }
}
