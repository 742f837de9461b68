using System.CommandLine;

namespace DiffusionKernels.Cli;

/// <summary>What the dataset options of <c>dk sample</c> asked for (see <see cref="DatasetOptions"/>).</summary>
/// <param name="ChunkSize">Samples per chunk file (null: not given).</param>
/// <param name="Resume">Continue the dataset in the output folder.</param>
/// <param name="Shard">"I/N" or "auto/N" (null: the whole dataset).</param>
/// <param name="Png">Also write a PNG per sample.</param>
internal sealed record DatasetRequest(int? ChunkSize, bool Resume, string? Shard, bool Png)
{
    /// <summary>Chunk size when none is given: 1,000 samples (16 MB of 64×64 images), small enough to lose little to a kill.</summary>
    public const int DefaultChunkSize = 1000;

    /// <summary>True when any dataset option was given: the run then streams chunks instead of writing one samples.npy.</summary>
    public bool Streaming => ChunkSize is not null || Resume || Shard is not null || Png;
}

/// <summary>
/// The options of <c>dk sample</c> that write a dataset as it goes (chunked .npy files, optional PNGs and a manifest),
/// resume it, or draw one shard of it.
/// </summary>
internal sealed class DatasetOptions
{
    private readonly Option<int?> _chunkSize = new("--chunk-size")
    {
        Description = $"Write the samples as a dataset, in chunk files of this many samples with a manifest.json, as they are drawn (default {DatasetRequest.DefaultChunkSize} when another dataset option is given)",
    };
    private readonly Option<bool> _resume = new("--resume")
    {
        Description = "Continue the dataset in --output: verify the chunks written (SHA-256), refuse other settings, draw the rest (starts it when the folder does not exist)",
    };
    private readonly Option<string?> _shard = new("--shard")
    {
        Description = "Draw shard I of N of the dataset (I/N: the I-th contiguous run of chunks), or auto/N with I from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm); join shards with dk merge",
    };
    private readonly Option<bool> _png = new("--png") { Description = "With a dataset: also write images/sample_NNNNNN.png for every sample" };

    /// <summary>The options, to add to a command.</summary>
    public IEnumerable<Option> Options => [_chunkSize, _resume, _shard, _png];

    /// <summary>What was given on the command line.</summary>
    public DatasetRequest Given(ParseResult result) => new(result.GetValue(_chunkSize), result.GetValue(_resume), result.GetValue(_shard), result.GetValue(_png));
}
