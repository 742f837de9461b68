using DiffusionKernels.Cli;
using DiffusionKernels.Samplers.Datasets;
using DiffusionKernels.Tests.Cli;
using DiffusionKernels.Tests.Datasets;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Reliability;

/// <summary>
/// Kill-and-resume of a dataset run: a real dk child process writing a dataset is killed (SIGKILL) or interrupted
/// (SIGINT) at several points of its chunk writes (the test-only halting points), and <c>--resume</c> must then finish a
/// folder that equals an uninterrupted run byte for byte.
/// </summary>
[NonParallelizable]
public class DatasetKillResumeTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        _dir = Directory.CreateTempSubdirectory("dk-dataset-kill-").FullName;
        File.WriteAllText(P("gmm.json"), DatasetFolders.MixtureSpec);
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    // 10 samples in chunks of 3: chunks of 3, 3, 3 and 1, with images.
    private string[] Args(string output, params string[] extra) =>
        DatasetFolders.SampleArgs(P("gmm.json"), output, 10, ["--chunk-size", "3", "--png", .. extra.Contains("--batch-size") ? extra : ["--batch-size", "2", .. extra]]);

    private string Reference()
    {
        var (code, _, err) = CliRunner.Run(Args(P("reference")));
        Assert.That(code, Is.Zero, err);
        return P("reference");
    }

    /// <summary>Starts dk halting at <paramref name="phase"/>, waits until it is there and kills it; returns its process id.</summary>
    private static int KillAt(string phase, string[] args)
    {
        using var child = DkProcess.Start(new Dictionary<string, string> { [OutputFolder.HaltVariable] = phase }, args);
        Assert.That(child.WaitFor($"dk: halted at {phase}", Limit), $"dk reached {phase}; stderr:\n{child.Stderr}");
        int id = child.Id;
        child.Kill();
        return id;
    }

    [TestCase("chunk-0:images")]
    [TestCase("chunk-1:npy")]
    [TestCase("chunk-2:manifest")]
    [TestCase("chunk-3:npy")]
    public void AKilledRunResumesToTheBytesOfAnUninterruptedOne(string phase)
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("the halting points and SIGKILL are exercised on Linux");
        var reference = Reference();
        int dead = KillAt(phase, Args(P("out")));

        Assert.That(OutputMarker.State(P("out")), Is.EqualTo("writing"), "a killed dataset is marked unfinished");
        var manifest = DatasetManifest.Load(P("out"));
        Assert.That(manifest.Complete, Is.False);
        int chunk = int.Parse(phase[6..7], System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(manifest.Chunks.Count, Is.EqualTo(phase.EndsWith(":manifest", StringComparison.Ordinal) ? chunk + 1 : chunk), "the manifest lists the chunks finished before the kill");
        // What a kill in the middle of a write leaves: a temporary file of the dead process.
        var stray = P($"out/.{DatasetLayout.ChunkFile(chunk)}.{dead}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(stray, "half a chunk");

        var (code, output, err) = CliRunner.Run(Args(P("out"), "--resume"));
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("resuming with"));
        Assert.That(File.Exists(stray), Is.False, "the dead writer's temporary file is removed");
        Assert.That(DatasetFolders.Difference(reference, P("out")), Is.Null, $"killed at {phase} and resumed, the folder equals an uninterrupted run");
        Assert.That(OutputMarker.State(P("out")), Is.EqualTo("complete"));
    }

    [Test]
    public void ARunKilledTwiceAndResumedTwiceEqualsAnUninterruptedOne()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("the halting points and SIGKILL are exercised on Linux");
        var reference = Reference();
        KillAt("chunk-0:npy", Args(P("out")));
        KillAt("chunk-2:images", Args(P("out"), "--resume", "--batch-size", "3"));
        Assert.That(DatasetManifest.Load(P("out")).Chunks.Select(c => c.Index), Is.EqualTo(new[] { 0, 1 }));
        var (code, _, err) = CliRunner.Run(Args(P("out"), "--resume"));
        Assert.That(code, Is.Zero, err);
        Assert.That(DatasetFolders.Difference(reference, P("out")), Is.Null);
    }

    [Test]
    public void CtrlCStopsWithAResumableSummary()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("SIGINT is exercised on Linux");
        var reference = Reference();
        using (var child = DkProcess.Start(new Dictionary<string, string> { [OutputFolder.HaltVariable] = "chunk-1:manifest" }, Args(P("out"))))
        {
            Assert.That(child.WaitFor("dk: halted at chunk-1:manifest", Limit), child.Stderr);
            child.Interrupt();
            Assert.That(child.Wait(Limit), Is.EqualTo(CliErrors.Interrupted), child.Stderr);
            Assert.That(child.Stderr, Does.Contain("holds 2 of 4 chunks (6 of 10 samples)").And.Contain("--resume").And.Contain("SHA-256"));
            Assert.That(child.Stdout, Does.Contain("samples 3/10 (30.0%)").And.Contain("images/s").And.Contain("ETA"));
        }
        var (code, _, err) = CliRunner.Run(Args(P("out"), "--resume"));
        Assert.That(code, Is.Zero, err);
        Assert.That(DatasetFolders.Difference(reference, P("out")), Is.Null);
    }

    [Test]
    public void AKilledShardResumesAndTheShardsMergeIntoOneRun()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("the halting points and SIGKILL are exercised on Linux");
        var reference = Reference();
        // 4 chunks over 2 shards: shard 1/2 holds chunks 2 and 3, and is killed after writing chunk 2's images.
        KillAt("chunk-2:images", Args(P("shards/s1"), "--shard", "1/2"));
        Assert.That(CliRunner.Run(Args(P("shards/s0"), "--shard", "0/2")).Code, Is.Zero);
        var (code, _, err) = CliRunner.Run("merge", P("shards/s0"), P("shards/s1"), "--output", P("merged"));
        Assert.That((code, err.Contains("is incomplete", StringComparison.Ordinal)), Is.EqualTo((2, true)), err);
        Assert.That(CliRunner.Run(Args(P("shards/s1"), "--shard", "1/2", "--resume")).Code, Is.Zero);
        (code, _, err) = CliRunner.Run("merge", P("shards/s0"), P("shards/s1"), "--output", P("merged"));
        Assert.That(code, Is.Zero, err);
        Assert.That(DatasetFolders.Difference(reference, P("merged")), Is.Null);
    }
}
