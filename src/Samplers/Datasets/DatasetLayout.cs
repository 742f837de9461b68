using System.Globalization;

namespace DiffusionKernels.Samplers.Datasets;

/// <summary>
/// How a dataset of <see cref="NumSamples"/> samples is cut into files: chunk k holds samples
/// [k·<see cref="ChunkSize"/>, min((k + 1)·<see cref="ChunkSize"/>, N)) as <c>chunk_KKKKKK.npy</c>, and sample i's image
/// (when asked for) is <c>images/sample_IIIIII.png</c>. The names depend on the dataset only, never on a shard or a
/// resumed run, which is what makes shards merge into the files of one run.
/// </summary>
internal sealed record DatasetLayout
{
    /// <summary>The folder inside a dataset that holds the images.</summary>
    public const string ImageFolder = "images";

    /// <summary>Creates the layout of <paramref name="numSamples"/> samples in chunks of <paramref name="chunkSize"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count or size below 1, or more chunks than fit an int.</exception>
    public DatasetLayout(long numSamples, int chunkSize)
    {
        if (numSamples < 1) throw new ArgumentOutOfRangeException(nameof(numSamples), $"a dataset holds at least 1 sample, found {numSamples}");
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), $"a chunk holds at least 1 sample, found {chunkSize}");
        long chunks = (numSamples + chunkSize - 1) / chunkSize;
        if (chunks > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(chunkSize), $"{numSamples} samples in chunks of {chunkSize} make {chunks} chunks; use larger chunks");
        NumSamples = numSamples;
        ChunkSize = chunkSize;
        ChunkCount = (int)chunks;
    }

    /// <summary>Samples in the whole dataset.</summary>
    public long NumSamples { get; }

    /// <summary>Samples per chunk (the last chunk may hold fewer).</summary>
    public int ChunkSize { get; }

    /// <summary>Chunks in the whole dataset.</summary>
    public int ChunkCount { get; }

    /// <summary>Index of chunk <paramref name="chunk"/>'s first sample.</summary>
    public long First(int chunk) => (long)chunk * ChunkSize;

    /// <summary>Samples in chunk <paramref name="chunk"/>.</summary>
    public int Count(int chunk) => (int)Math.Min(ChunkSize, NumSamples - First(chunk));

    /// <summary>File name of chunk <paramref name="chunk"/>.</summary>
    public static string ChunkFile(int chunk) => string.Create(CultureInfo.InvariantCulture, $"chunk_{chunk:D6}.npy");

    /// <summary>Path of sample <paramref name="sample"/>'s image, relative to the dataset folder ('/'-separated).</summary>
    public static string ImageFile(long sample) => string.Create(CultureInfo.InvariantCulture, $"{ImageFolder}/sample_{sample:D6}.png");
}
