using DiffusionKernels.Samplers.Datasets;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Datasets;

/// <summary>Shard parsing (I/N, auto/N from the scheduler's variables) and the chunk ranges shards cover.</summary>
public class ShardSpecTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Test]
    public void ShardsPartitionTheChunksIntoContiguousRunsThatDifferByAtMostOne()
    {
        foreach (int chunks in new[] { 0, 1, 2, 3, 7, 10, 100, 1001 })
            foreach (int count in new[] { 1, 2, 3, 8, 13 })
            {
                int next = 0;
                var sizes = new List<int>();
                for (int i = 0; i < count; i++)
                {
                    var (first, end) = new ShardSpec(i, count).ChunkRange(chunks);
                    Assert.That(first, Is.EqualTo(next), $"shard {i}/{count} of {chunks} chunks starts where shard {i - 1} ended");
                    Assert.That(end, Is.GreaterThanOrEqualTo(first));
                    sizes.Add(end - first);
                    next = end;
                }
                Assert.That(next, Is.EqualTo(chunks), $"{count} shards cover all {chunks} chunks");
                Assert.That(sizes.Max() - sizes.Min(), Is.LessThanOrEqualTo(1), $"{count} shards of {chunks} chunks are balanced");
            }
    }

    [Test]
    public void ParsesExplicitAndAutomaticIndices()
    {
        Assert.That(ShardSpec.Parse("2/5", Env()).ToString(), Is.EqualTo("2/5"));
        Assert.That(ShardSpec.Parse("auto/4", Env(("JOB_COMPLETION_INDEX", "3"))).Index, Is.EqualTo(3));
        Assert.That(ShardSpec.Parse("auto/4", Env(("SLURM_ARRAY_TASK_ID", "1"))).Index, Is.EqualTo(1));
        Assert.That(ShardSpec.Parse("auto/4", Env(("JOB_COMPLETION_INDEX", "2"), ("SLURM_ARRAY_TASK_ID", "2"))).Index, Is.EqualTo(2));
    }

    [TestCase("3", "expected I/N")]
    [TestCase("1/0", "expected I/N")]
    [TestCase("4/4", "0 … 3")]
    [TestCase("-1/4", "0 … 3")]
    [TestCase("x/4", "0 … 3")]
    [TestCase("auto/4", "neither is set")]
    public void MalformedShardsAreClearErrors(string text, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => ShardSpec.Parse(text, Env()));
        Assert.That(e!.Message, Does.Contain(message).And.Contain(text));
    }

    [Test]
    public void AutomaticIndicesOutsideTheRangeOrInConflictAreErrors()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => ShardSpec.Parse("auto/4", Env(("SLURM_ARRAY_TASK_ID", "4"))))!.Message,
            Does.Contain("SLURM_ARRAY_TASK_ID=4").And.Contain("0 … 3"));
        Assert.That(Assert.Throws<ArgumentException>(() => ShardSpec.Parse("auto/4", Env(("JOB_COMPLETION_INDEX", "1"), ("SLURM_ARRAY_TASK_ID", "2"))))!.Message,
            Does.Contain("disagree"));
        Assert.That(Assert.Throws<ArgumentException>(() => ShardSpec.Parse("auto/4", Env(("JOB_COMPLETION_INDEX", "one"))))!.Message,
            Does.Contain("not a shard index"));
    }

    [Test]
    public void TheLayoutCutsSamplesIntoFixedChunksWithAShortLastOne()
    {
        var layout = new DatasetLayout(10, 3);
        Assert.That(layout.ChunkCount, Is.EqualTo(4));
        Assert.That(Enumerable.Range(0, 4).Select(k => (layout.First(k), layout.Count(k))), Is.EqualTo(new[] { (0L, 3), (3L, 3), (6L, 3), (9L, 1) }));
        Assert.That(DatasetLayout.ChunkFile(12), Is.EqualTo("chunk_000012.npy"));
        Assert.That(DatasetLayout.ImageFile(1234567), Is.EqualTo("images/sample_1234567.png"));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DatasetLayout(10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DatasetLayout(long.MaxValue, 1));
    }
}
