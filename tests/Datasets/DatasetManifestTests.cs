using DiffusionKernels.Samplers.Datasets;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Datasets;

/// <summary>The manifest's file form and the writer's checks, without the CLI.</summary>
public class DatasetManifestTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("dk-manifest-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private static DatasetSpec Spec(int chunk = 2, bool images = false) =>
        new(new string('a', 64), 5, 5, [1, 2, 2], chunk, images, new SortedDictionary<string, string> { ["sampler"] = "euler", ["steps"] = "4" });

    private static float[] Values(long first, int count) => [.. Enumerable.Range(0, count * 4).Select(i => (float)(first * 4 + i))];

    [Test]
    public void AWrittenManifestReadsBackToTheSameBytes()
    {
        var writer = DatasetWriter.Create(_dir, Spec(), new ShardSpec(1, 2));
        writer.WriteAll((first, count) => Values(first, count), null);
        var bytes = File.ReadAllBytes(Path.Combine(_dir, DatasetManifest.FileName));
        var loaded = DatasetManifest.Load(_dir);
        Assert.That(loaded.ToJson(), Is.EqualTo(bytes));
        Assert.That(loaded.Complete);
        Assert.That(loaded.ChunkRange, Is.EqualTo((1, 3)), "shard 1/2 of 3 chunks");
        Assert.That(loaded.SampleRange, Is.EqualTo((2L, 5L)));
        Assert.That(loaded.Chunks.Select(c => (c.Index, c.First, c.Count)), Is.EqualTo(new[] { (1, 2L, 2), (2, 4L, 1) }));
        Assert.That(Runtime.IO.Npy.Read(Path.Combine(_dir, "chunk_000002.npy")).AsFloat32(), Is.EqualTo(Values(4, 1)));
    }

    [Test]
    public void ResumeDrawsOnlyTheMissingChunks()
    {
        var writer = DatasetWriter.Create(_dir, Spec(), null);
        writer.Write(1, Values(2, 2), null);
        var drawn = new List<long>();
        var resumed = DatasetWriter.Resume(_dir, Spec(), null);
        Assert.That(resumed.Pending, Is.EqualTo(new[] { 0, 2 }));
        resumed.WriteAll((first, count) => { drawn.Add(first); return Values(first, count); }, null);
        Assert.That(drawn, Is.EqualTo(new[] { 0L, 4L }));
        Assert.That(DatasetManifest.Load(_dir).Complete, File.ReadAllText(Path.Combine(_dir, DatasetManifest.FileName)));
    }

    [Test]
    public void ManifestsThatContradictThemselvesAreErrors()
    {
        DatasetWriter.Create(_dir, Spec(), null).Write(0, Values(0, 2), null);
        var path = Path.Combine(_dir, DatasetManifest.FileName);
        var good = File.ReadAllText(path);
        void Refused(string text, string message)
        {
            File.WriteAllText(path, text);
            var e = Assert.Throws<DatasetException>(() => DatasetManifest.Load(_dir));
            Assert.That(e!.Message, Does.Contain(message).And.Contain(path));
        }
        Refused(good.Replace("\"first\": 0,\n      \"count\": 2", "\"first\": 1,\n      \"count\": 2", StringComparison.Ordinal), "the layout says");
        Refused(good.Replace("\"complete\": false", "\"complete\": true", StringComparison.Ordinal), "marked complete but lists 1 of its 3 chunks");
        Refused(good.Replace("dk-dataset/1", "dk-dataset/9", StringComparison.Ordinal), "is not dk-dataset/1");
        Refused(good[..(good.Length / 2)], "not a valid dataset manifest");
        Refused(good.Replace("\"seed\": 5", "\"seed\": \"five\"", StringComparison.Ordinal), "not a valid dataset manifest");
        File.Delete(path);
        Assert.That(Assert.Throws<DatasetException>(() => DatasetManifest.Load(_dir))!.Message, Does.Contain("holds no manifest.json"));
    }

    [Test]
    public void AChunkOfTheWrongSizeOrOutsideTheShardIsRefused()
    {
        var writer = DatasetWriter.Create(_dir, Spec(), new ShardSpec(0, 2));
        Assert.Throws<ArgumentException>(() => writer.Write(0, Values(0, 1), null));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(2, Values(4, 1), null));
        Assert.That(Assert.Throws<DatasetException>(() => DatasetWriter.Create(_dir, Spec(), null))!.Message, Does.Contain("already holds a dataset"));
    }
}
