using DiffusionKernels.Cli;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Cli;
using NUnit.Framework;

namespace DiffusionKernels.Tests.BundledModel;

/// <summary>The README's main job, <c>dk sample</c> with the bundled model, and <c>dk study</c>, end to end.</summary>
public class BundledModelCommandTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-main-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void SampleWithoutAModelUsesTheBundledOne()
    {
        var (code, output, err) = CliRunner.Run("sample", "--num-samples", "3", "--batch-size", "2", "--steps", "2", "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("device cpu").And.Contain("diffusers DPMSolverMultistepScheduler").And.Contain("NFE 4").And.Contain("images/s"));
        Assert.That(Npy.Read(P("out/samples.npy")).Shape, Is.EqualTo(new[] { 3, 1, 64, 64 }));
        Assert.That(File.Exists(P("out/grid.png")) && File.Exists(P("out/sample_0002.png")));
    }

    [Test]
    public void AMissingModelFolderAndAnUnwritableOutputAreClearErrors()
    {
        var (code, _, err) = CliRunner.Run("sample", "--model", P("no-such-model"), "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("no-such-model"));
        File.WriteAllText(P("file"), "x");
        (code, _, err) = CliRunner.Run("sample", "--output", P("file/out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("parent does not exist"));
        (code, _, err) = CliRunner.Run("sample", "--output", P("file"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("is a file"));
        Assert.That(Directory.GetFileSystemEntries(_dir), Has.Length.EqualTo(1), "nothing written");
    }

    [Test]
    public void AFailureWhileWritingLeavesNoFolder()
    {
        Assert.Throws<IOException>(() => OutputFolder.Write(P("out"), temp =>
        {
            File.WriteAllText(Path.Combine(temp, "half.npy"), "x");
            throw new IOException("disk full");
        }));
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty);
    }

    [Test]
    public void StudyPrintsTheQualityTableAndWritesThePlot()
    {
        var (code, output, err) = CliRunner.Run("study", "--samplers", "euler,dpmpp_2m,euler_ancestral", "--steps", "2,3", "--num-samples", "4",
            "--reference-count", "32", "--ode-tolerance", "1e-2", "--output", P("study"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("| dpmpp_2m | 3 | 3 |").And.Contain("noise baseline").And.Contain("real vs real"));
        var csv = File.ReadAllLines(P("study/study.csv"));
        Assert.That(csv, Has.Length.EqualTo(7));
        Assert.That(csv[^1], Does.StartWith("euler_ancestral,3,3,").And.EndWith(",," + csv[^1].Split(',')[^1]), "stochastic runs have no ODE error");
        Assert.That(new FileInfo(P("study/quality_vs_nfe.png")).Length, Is.GreaterThan(1000));
    }

    [TestCase("--samplers", "euler,nope", "unknown sampler 'nope'")]
    [TestCase("--steps", "5,x", "--steps")]
    [TestCase("--num-samples", "1", "--num-samples")]
    public void StudyRejectsBadOptions(string option, string value, string expected)
    {
        var (code, _, err) = CliRunner.Run("study", option, value, "--output", P("study"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain(expected));
        Assert.That(Directory.Exists(P("study")), Is.False);
    }
}
