using DiffusionKernels.Cli;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers.Datasets;
using DiffusionKernels.Tests.Cli;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Datasets;

/// <summary>
/// dk sample as a dataset (chunks, manifest, --resume, --shard) and dk merge: merged shards and streamed chunks hold the
/// bytes of one run; tampered, missing and mismatched inputs are clear errors.
/// </summary>
public class DatasetCliTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);
    private string Gmm => P("gmm.json");

    [SetUp]
    public void MakeDir()
    {
        _dir = Directory.CreateTempSubdirectory("dk-dataset-").FullName;
        File.WriteAllText(Gmm, DatasetFolders.MixtureSpec);
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Sample(string output, int n, params string[] extra) => CliRunner.Run(DatasetFolders.SampleArgs(Gmm, output, n, extra));

    private static void Ok((int Code, string Out, string Err) run) => Assert.That(run.Code, Is.Zero, run.Err + run.Out);

    [Test]
    public void ChunksHoldExactlyTheSamplesAndImagesOfAnInMemoryRun()
    {
        Ok(Sample(P("plain"), 10, "--batch-size", "4"));
        var (code, output, err) = Sample(P("data"), 10, "--batch-size", "3", "--chunk-size", "4", "--png");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("samples 10/10 (100.0%)").And.Contain("chunks 3/3").And.Contain("images/s").And.Contain("ETA").And.Contain("peak memory"));

        var plain = Npy.Read(P("plain/samples.npy")).AsFloat32();
        var chunks = Enumerable.Range(0, 3).Select(k => Npy.Read(P($"data/{DatasetLayout.ChunkFile(k)}"))).ToList();
        Assert.That(chunks.Select(c => c.Shape), Is.EqualTo(new[] { new[] { 4, 1, 8, 8 }, new[] { 4, 1, 8, 8 }, new[] { 2, 1, 8, 8 } }));
        Assert.That(chunks.SelectMany(c => c.AsFloat32()).ToArray(), Is.EqualTo(plain), "chunk k, drawn alone from sample 4k, equals those samples of one in-memory run");
        for (int i = 0; i < 10; i++)
            Assert.That(File.ReadAllBytes(P($"data/{DatasetLayout.ImageFile(i)}")), Is.EqualTo(File.ReadAllBytes(P($"plain/sample_{i:D4}.png"))), $"image {i}");

        var manifest = DatasetManifest.Load(P("data"));
        Assert.That(manifest.Complete && manifest.Shard is null && manifest.Chunks.Count == 3);
        Assert.That(manifest.Spec.Seed, Is.EqualTo(7UL));
        Assert.That(manifest.Spec.ModelSha256, Is.EqualTo(FileHash.Of(Gmm)));
        Assert.That(manifest.Spec.Settings["sampler"], Is.EqualTo("euler_ancestral"));
        Assert.That(manifest.Spec.Engine, Does.StartWith("DiffusionKernels "));
        Assert.That(manifest.Chunks[1].Sha256, Is.EqualTo(FileHash.Of(P("data/chunk_000001.npy"))));
        Assert.That(OutputMarker.State(P("data")), Is.EqualTo("complete"));
    }

    [Test]
    public void ADiffusersSchedulerRunStreamsTheSamplesOfAnInMemoryRun()
    {
        // A stochastic scheduler: its per-step noise is keyed by the sample index too, so a chunk drawn alone must match.
        File.WriteAllText(P("ancestral.json"), DatasetFolders.MixtureSpec.TrimEnd('}') + ", \"_class_name\": \"EulerAncestralDiscreteScheduler\"}");
        string[] args = ["sample", "--model", "gmm:" + P("ancestral.json"), "--steps", "5", "--num-samples", "7", "--seed", "3", "--device", "cpu"];
        Ok(CliRunner.Run([.. args, "--output", P("plain"), "--batch-size", "7"]));
        Ok(CliRunner.Run([.. args, "--output", P("data"), "--batch-size", "2", "--chunk-size", "3"]));
        var chunks = Enumerable.Range(0, 3).SelectMany(k => Npy.Read(P($"data/{DatasetLayout.ChunkFile(k)}")).AsFloat32()).ToArray();
        Assert.That(chunks, Is.EqualTo(Npy.Read(P("plain/samples.npy")).AsFloat32()));
        Assert.That(DatasetManifest.Load(P("data")).Spec.Settings["sampler"], Is.EqualTo("diffusers EulerAncestralDiscreteScheduler"));
    }

    [Test]
    public void ThreeShardsMergeIntoTheBytesOfOneRun()
    {
        Ok(Sample(P("single"), 11, "--chunk-size", "2", "--png"));
        // Other batch sizes per shard: sample n of a seed does not depend on the batch split.
        Ok(Sample(P("shards/s0"), 11, "--chunk-size", "2", "--png", "--shard", "0/3", "--batch-size", "1"));
        Ok(Sample(P("shards/s1"), 11, "--chunk-size", "2", "--png", "--shard", "1/3", "--batch-size", "3"));
        Ok(Sample(P("shards/s2"), 11, "--chunk-size", "2", "--png", "--shard", "2/3"));
        Assert.That(DatasetManifest.Load(P("shards/s1")).Chunks.Select(c => c.Index), Is.EqualTo(new[] { 2, 3 }), "shard 1/3 of 6 chunks is the second contiguous pair");

        var (code, output, err) = CliRunner.Run("merge", P("shards/s2"), P("shards/s0"), P("shards/s1"), "--output", P("merged"));
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("6 of 6 chunks"));
        Assert.That(DatasetFolders.Difference(P("single"), P("merged")), Is.Null, "the merged folder equals one run byte for byte");
        Assert.That(OutputMarker.State(P("merged")), Is.EqualTo("complete"));
    }

    [Test]
    public void MergeRefusesMissingOverlappingIncompleteMismatchedAndTamperedShards()
    {
        for (int i = 0; i < 3; i++) Ok(Sample(P($"s{i}"), 9, "--chunk-size", "2", "--shard", $"{i}/3"));
        Ok(Sample(P("other"), 9, "--chunk-size", "2", "--shard", "2/3", "--steps", "5"));

        void Refused(string why, string message, params string[] folders)
        {
            var (code, _, err) = CliRunner.Run(["merge", .. folders.Select(P), "--output", P("merged")]);
            Assert.That(code, Is.EqualTo(2), why);
            Assert.That(err, Does.Contain(message), why);
            Assert.That(Directory.Exists(P("merged")), Is.False, $"{why}: nothing is written");
        }

        Refused("a missing shard", "shard 1/3 not given", "s0", "s2");
        Refused("a shard given twice", "both hold chunk", "s0", "s1", "s1", "s2");
        Refused("other settings", "settings.steps: 4 vs 5", "s0", "s1", "other");
        Ok(Sample(P("whole"), 9, "--chunk-size", "2"));
        Refused("a whole dataset with shards", "shards of different splits", "s0", "s1", "whole");

        var manifest = File.ReadAllText(P("s1/manifest.json"));
        File.WriteAllText(P("s1/manifest.json"), manifest.Replace("\"complete\": true", "\"complete\": false"));
        Refused("an incomplete shard", "is incomplete", "s0", "s1", "s2");
        File.WriteAllText(P("s1/manifest.json"), manifest);

        var chunk = P("s2/chunk_000003.npy");
        var bytes = File.ReadAllBytes(chunk);
        bytes[^1] ^= 1;
        File.WriteAllBytes(chunk, bytes);
        Refused("a changed chunk", "chunk_000003.npy has been changed or damaged", "s0", "s1", "s2");
    }

    [Test]
    public void ResumeRefusesOtherSettings()
    {
        Ok(Sample(P("data"), 6, "--chunk-size", "2"));
        void Refused(string message, params string[] extra)
        {
            var (code, _, err) = Sample(P("data"), 6, ["--chunk-size", "2", "--resume", .. extra]);
            Assert.That(code, Is.EqualTo(2), string.Join(' ', extra));
            Assert.That(err, Does.Contain("other settings").And.Contain(message));
        }
        Refused("settings.steps: 4 vs 3", "--steps", "3");
        Refused("seed: 7 vs 8", "--seed", "8");
        Refused("settings.solver.eta: (unset) vs 0.5", "--eta", "0.5");
        Refused("shard: (whole dataset) vs 0/2", "--shard", "0/2");
        Refused("images: none vs png", "--png");
        var (code, _, err) = Sample(P("data"), 7, "--chunk-size", "2", "--resume");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("num_samples: 6 vs 7"));
        (code, _, err) = Sample(P("data"), 6, "--chunk-size", "3", "--resume");
        Assert.That(err, Does.Contain("chunk_size: 2 vs 3"));
        Assert.That(DatasetManifest.Load(P("data")).Complete, "the refused runs left the dataset as it was");
    }

    [Test]
    public void ResumeFindsChangedAndMissingChunksAndImages()
    {
        Ok(Sample(P("data"), 6, "--chunk-size", "2", "--png"));
        Ok(Sample(P("data"), 6, "--chunk-size", "2", "--png", "--resume"));
        var manifest = File.ReadAllBytes(P("data/manifest.json"));

        var chunk = P("data/chunk_000001.npy");
        var bytes = File.ReadAllBytes(chunk);
        bytes[200] ^= 0x40;
        File.WriteAllBytes(chunk, bytes);
        var (code, _, err) = Sample(P("data"), 6, "--chunk-size", "2", "--png", "--resume");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("chunk_000001.npy has been changed or damaged").And.Contain("SHA-256"));

        File.Delete(chunk);
        (code, _, err) = Sample(P("data"), 6, "--chunk-size", "2", "--png", "--resume");
        Assert.That((code, err.Contains("chunk_000001.npy is missing", StringComparison.Ordinal)), Is.EqualTo((2, true)), err);

        Ok(Sample(P("data"), 6, "--chunk-size", "2", "--png", "--force"));
        File.Delete(P("data/images/sample_000004.png"));
        (code, _, err) = Sample(P("data"), 6, "--chunk-size", "2", "--png", "--resume");
        Assert.That((code, err.Contains("sample_000004.png is missing", StringComparison.Ordinal)), Is.EqualTo((2, true)), err);
        Ok(Sample(P("data"), 6, "--chunk-size", "2", "--png", "--force"));
        Assert.That(File.ReadAllBytes(P("data/manifest.json")), Is.EqualTo(manifest), "a fresh run rewrites the same manifest");
    }

    [Test]
    public void ResumeStartsAMissingDatasetAndLeavesAFinishedOneAsItIs()
    {
        var (code, output, err) = Sample(P("data"), 5, "--chunk-size", "2", "--resume");
        Assert.That(code, Is.Zero, err);
        var first = DatasetFolders.Files(P("data"));
        (code, output, err) = Sample(P("data"), 5, "--chunk-size", "2", "--resume", "--batch-size", "1");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("3 of 3 chunks").And.Contain("0 samples drawn"));
        Assert.That(DatasetFolders.Files(P("data")), Is.EqualTo(first), "nothing was rewritten");
        Ok(Sample(P("reference"), 5, "--chunk-size", "2"));
        Assert.That(DatasetFolders.Difference(P("reference"), P("data")), Is.Null, "a run started by --resume is a plain run");
    }

    [Test]
    public void DatasetOptionsKeepTheOutputFolderRules()
    {
        Directory.CreateDirectory(P("mine"));
        File.WriteAllText(P("mine/notes.txt"), "keep me");
        var (code, _, err) = Sample(P("mine"), 4, "--chunk-size", "2", "--force");
        Assert.That((code, err.Contains("--force replaces only folders dk wrote", StringComparison.Ordinal)), Is.EqualTo((2, true)), err);
        (code, _, err) = Sample(P("mine"), 4, "--chunk-size", "2", "--resume");
        Assert.That(code, Is.EqualTo(2), err);
        Assert.That(File.ReadAllText(P("mine/notes.txt")), Is.EqualTo("keep me"));

        Ok(Sample(P("result"), 4));
        (code, _, err) = Sample(P("result"), 4, "--resume");
        Assert.That((code, err.Contains("not a dataset to continue", StringComparison.Ordinal)), Is.EqualTo((2, true)), "a dk result that is not a dataset is not resumed (nor deleted)");
        Assert.That(File.Exists(P("result/samples.npy")));

        (code, _, err) = Sample(P("x"), 4, "--resume", "--force");
        Assert.That((code, err.Contains("give one of them", StringComparison.Ordinal)), Is.EqualTo((2, true)), err);
        File.WriteAllBytes(P("noise.npy"), []);
        (code, _, err) = Sample(P("x"), 4, "--chunk-size", "2", "--init", P("noise.npy"));
        Assert.That((code, err.Contains("--init", StringComparison.Ordinal)), Is.EqualTo((2, true)), err);
        (code, _, err) = Sample(P("x"), 4, "--chunk-size", "0");
        Assert.That((code, err.Contains("--chunk-size", StringComparison.Ordinal)), Is.EqualTo((2, true)), err);
        (code, _, err) = Sample(P("x"), 4, "--shard", "3/3");
        Assert.That((code, err.Contains("--shard", StringComparison.Ordinal)), Is.EqualTo((2, true)), err);
        File.WriteAllText(P("flat.json"), """{"shape": [16], "weights": [1], "means": [0], "stds": [1]}""");
        (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P("flat.json"), "--num-samples", "2", "--png", "--output", P("x"), "--device", "cpu");
        Assert.That((code, err.Contains("--png", StringComparison.Ordinal)), Is.EqualTo((2, true)), err);
        Assert.That(Directory.Exists(P("x")), Is.False);
    }

    [Test]
    public void AShardWithoutChunksIsCompleteAndMergesWithTheOthers()
    {
        Ok(Sample(P("single"), 3, "--chunk-size", "2"));
        for (int i = 0; i < 3; i++) Ok(Sample(P($"s{i}"), 3, "--chunk-size", "2", "--shard", $"{i}/3"));
        Assert.That(DatasetManifest.Load(P("s0")).Chunks, Is.Empty, "2 chunks over 3 shards leave shard 0 empty");
        Ok(CliRunner.Run("merge", P("s0"), P("s1"), P("s2"), "--output", P("merged")));
        Assert.That(DatasetFolders.Difference(P("single"), P("merged")), Is.Null);
    }
}
