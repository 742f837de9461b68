using System.Globalization;

namespace DiffusionKernels.Samplers.Datasets;

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/> of a dataset: the <see cref="Index"/>-th contiguous run of whole
/// chunks (<see cref="ChunkRange"/>). Contiguous whole chunks, not samples i ≡ I (mod N), because then every shard's
/// chunk files are byte for byte the chunk files of one unsharded run: merging copies files and their SHA-256 carries
/// over unchanged, and no chunk is ever split between machines.
/// </summary>
internal sealed record ShardSpec
{
    /// <summary>Environment variables that give a worker its shard index, in the order they are read: Kubernetes Indexed Jobs, Slurm job arrays.</summary>
    public static readonly string[] IndexVariables = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

    /// <summary>Creates shard <paramref name="index"/> of <paramref name="count"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The count is below 1 or the index outside [0, count).</exception>
    public ShardSpec(int index, int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), $"a dataset splits into at least 1 shard, found {count}");
        if (index < 0 || index >= count) throw new ArgumentOutOfRangeException(nameof(index), $"shard index {index} is outside 0 … {count - 1} (shards are numbered from 0)");
        Index = index;
        Count = count;
    }

    /// <summary>This shard's number, 0 … <see cref="Count"/> − 1.</summary>
    public int Index { get; }

    /// <summary>How many shards the dataset is split into.</summary>
    public int Count { get; }

    /// <summary>The chunks [First, End) this shard writes out of <paramref name="chunkCount"/>; sizes differ by at most one chunk.</summary>
    public (int First, int End) ChunkRange(int chunkCount) =>
        ((int)((long)chunkCount * Index / Count), (int)((long)chunkCount * (Index + 1) / Count));

    /// <summary>"I/N".</summary>
    public override string ToString() => $"{Index}/{Count}";

    /// <summary>
    /// Parses "I/N", or "auto/N" where I comes from the first of <see cref="IndexVariables"/> that
    /// <paramref name="environment"/> sets (when both are set they must agree).
    /// </summary>
    /// <exception cref="ArgumentException">The text is not of that form, or "auto" finds no index.</exception>
    public static ShardSpec Parse(string text, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(environment);
        var parts = text.Trim().Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count < 1)
            throw new ArgumentException($"shard '{text}': expected I/N with a shard count N ≥ 1 (e.g. 0/4), or auto/N");
        int index;
        if (parts[0] == "auto")
        {
            var found = IndexVariables.Select(v => (Variable: v, Value: environment(v))).Where(p => !string.IsNullOrWhiteSpace(p.Value)).ToList();
            if (found.Count == 0)
                throw new ArgumentException($"shard '{text}': auto reads the shard index from {string.Join(" or ", IndexVariables)}, and neither is set");
            if (found.Select(p => p.Value!.Trim()).Distinct().Count() > 1)
                throw new ArgumentException($"shard '{text}': {string.Join(" and ", found.Select(p => $"{p.Variable}={p.Value}"))} disagree");
            var (variable, value) = found[0];
            if (!int.TryParse(value!.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out index))
                throw new ArgumentException($"shard '{text}': {variable}={value} is not a shard index");
            if (index >= count)
                throw new ArgumentException($"shard '{text}': {variable}={index} is outside 0 … {count - 1}; run the array with indices 0 … {count - 1}");
        }
        else if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out index) || index >= count)
        {
            throw new ArgumentException($"shard '{text}': the index must be a whole number in 0 … {count - 1}");
        }
        return new ShardSpec(index, count);
    }
}
