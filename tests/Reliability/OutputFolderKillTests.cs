using System.Diagnostics;
using DiffusionKernels.Cli;
using DiffusionKernels.Tests.Cli;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Reliability;

/// <summary>
/// Kill tests of the atomic output folder: a real dk child process replacing an existing result is killed (SIGKILL, so
/// no handler runs) at each phase of the write, and the folder must then hold the old or the new complete result; the
/// next run must clean up what the killed one left. Also the recovery from the non-atomic fallback and from Ctrl+C.
/// </summary>
[NonParallelizable]
public class OutputFolderKillTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        _dir = Directory.CreateTempSubdirectory("dk-kill-").FullName;
        File.WriteAllText(P("gmm.json"), """{"shape": [1, 8, 8], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2]}""");
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private string[] SampleArgs(string output, int seed) =>
        ["sample", "--model", "gmm:" + P("gmm.json"), "--sampler", "euler", "--steps", "4", "--num-samples", "6", "--seed", $"{seed}", "--output", output, "--device", "cpu", "--force"];

    /// <summary>A folder's files (the marker aside) and their bytes.</summary>
    private static Dictionary<string, byte[]> Content(string folder) =>
        Directory.GetFiles(folder).Where(f => Path.GetFileName(f) != OutputMarker.FileName).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    private static bool SameContent(Dictionary<string, byte[]> a, Dictionary<string, byte[]> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v.AsSpan().SequenceEqual(kv.Value));

    private string[] Leftovers() => Directory.GetFileSystemEntries(_dir, ".out.*");

    [TestCase("writing", "old")]
    [TestCase("complete", "old")]
    [TestCase("exchanged", "new")]
    [TestCase("deleting-old", "new")]
    public void AKillAtAnyPhaseLeavesTheOldOrTheNewCompleteResult(string phase, string expected)
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("the halting points and SIGKILL are exercised on Linux");
        Assert.That(CliRunner.Run(SampleArgs(P("out"), 1)).Code, Is.Zero);
        Assert.That(CliRunner.Run(SampleArgs(P("reference-new"), 2)).Code, Is.Zero);
        var old = Content(P("out"));
        var fresh = Content(P("reference-new"));
        Assert.That(SameContent(old, fresh), Is.False, "the two seeds give different results");

        using (var child = DkProcess.Start(new Dictionary<string, string> { [OutputFolder.HaltVariable] = phase }, SampleArgs(P("out"), 2)))
        {
            Assert.That(child.WaitFor($"dk: halted at {phase}", Limit), $"dk reached {phase}; stderr:\n{child.Stderr}");
            child.Kill();
        }

        Assert.That(Directory.Exists(P("out")), "the output folder is in place");
        Assert.That(SameContent(Content(P("out")), expected == "old" ? old : fresh), $"killed at {phase}, the folder holds the {expected} complete result");
        Assert.That(OutputMarker.State(P("out")), Is.EqualTo("complete"));
        Assert.That(Leftovers(), Is.Not.Empty, "the kill came mid-way: the killed run's work folder is still beside the output");

        // The next run cleans up after the dead one and replaces the folder.
        var (code, _, err) = CliRunner.Run(SampleArgs(P("out"), 3));
        Assert.That(code, Is.Zero, err);
        Assert.That(Leftovers(), Is.Empty, "stale folders of the dead run are gone");
        Assert.That(SameContent(Content(P("out")), old) || SameContent(Content(P("out")), fresh), Is.False, "the folder holds the third run's result");
    }

    [Test]
    public void AKillDuringAFirstWriteLeavesNoOutputAndTheNextRunCleansUp()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("the halting points and SIGKILL are exercised on Linux");
        using (var child = DkProcess.Start(new Dictionary<string, string> { [OutputFolder.HaltVariable] = "writing" }, SampleArgs(P("out"), 2)))
        {
            Assert.That(child.WaitFor("dk: halted at writing", Limit), child.Stderr);
            child.Kill();
        }
        Assert.That(Directory.Exists(P("out")), Is.False);
        Assert.That(Leftovers(), Has.Length.EqualTo(1));
        Assert.That(CliRunner.Run(SampleArgs(P("out"), 2)).Code, Is.Zero);
        Assert.That(Leftovers(), Is.Empty);
    }

    [Test]
    public void CtrlCStopsTheRunWithCode130AndWritesNothing()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("SIGINT is sent with kill(1)");
        using var child = DkProcess.Start(null, "sample", "--model", "gmm:" + P("gmm.json"), "--sampler", "euler", "--steps", "100000", "--num-samples", "64",
            "--output", P("out"), "--device", "cpu");
        // Sampling prints a progress line after its first step; the Ctrl+C handler is installed before sampling starts.
        Assert.That(child.WaitFor("sampling", Limit), child.Stderr + child.Stdout);
        child.Interrupt();
        Assert.That(child.Wait(Limit), Is.EqualTo(CliErrors.Interrupted), child.Stderr);
        Assert.That(child.Stderr, Does.Contain("interrupted"));
        Assert.That(Directory.Exists(P("out")), Is.False);
        Assert.That(Leftovers(), Is.Empty);
    }

    [Test]
    public void AnOldFolderMovedAsideByADeadRunIsPutBack()
    {
        // Where folders cannot be swapped atomically, the old one is renamed aside before the new one moves in; a kill in
        // between leaves neither in place. The next run restores the old complete result.
        Assert.That(CliRunner.Run(SampleArgs(P("out"), 1)).Code, Is.Zero);
        var old = Content(P("out"));
        int dead = DeadProcessId();
        Directory.Move(P("out"), StaleOutputs.Old(P("out"), dead));
        Assert.That(CliRunner.Run(SampleArgs(P("new"), 2)).Code, Is.Zero);
        Directory.Move(P("new"), StaleOutputs.Partial(P("out"), dead));

        OutputFolder.Check(P("out"), force: true);
        Assert.That(SameContent(Content(P("out")), old), "the old result is back");
        Assert.That(Leftovers(), Is.Empty);
    }

    [Test]
    public void LeftoversOfLiveProcessesAndFoldersDkDidNotMakeAreLeftAlone()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("uses sleep(1) as a live process");
        using var live = Process.Start("sleep", "60");
        try
        {
            var livePartial = StaleOutputs.Partial(P("out"), live.Id);
            Directory.CreateDirectory(livePartial);
            OutputMarker.Write(livePartial, "writing");
            int dead1 = DeadProcessId(), dead2 = DeadProcessId();
            Assume.That(dead2, Is.Not.EqualTo(dead1));
            var foreign = StaleOutputs.Partial(P("out"), dead1);
            Directory.CreateDirectory(foreign);
            File.WriteAllText(Path.Combine(foreign, "notes.txt"), "not dk's");
            var deadPartial = StaleOutputs.Partial(P("out"), dead2);
            Directory.CreateDirectory(deadPartial);
            OutputMarker.Write(deadPartial, "writing");

            OutputFolder.Check(P("out"), force: false);
            Assert.That(Directory.Exists(livePartial), "a live run's folder is kept");
            Assert.That(File.Exists(Path.Combine(foreign, "notes.txt")), "a folder without dk's marker is kept");
            Assert.That(Directory.Exists(deadPartial), Is.False, "a dead run's folder is removed");
        }
        finally
        {
            live.Kill();
            live.WaitForExit();
        }
    }

    /// <summary>The id of a process that has ended (and, on a quiet machine, not been reused yet).</summary>
    private static int DeadProcessId()
    {
        using var p = Process.Start("true")!;
        p.WaitForExit();
        return p.Id;
    }
}
