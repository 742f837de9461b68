using DiffusionKernels.Cli;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary>What --output and --force may touch: only folders dk wrote, never an input, a model or a special file.</summary>
public class OutputSafetyTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        _dir = Directory.CreateTempSubdirectory("dk-out-").FullName;
        File.WriteAllText(P("gmm.json"), """{"shape": [1, 8, 8], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2]}""");
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Sample(string output, params string[] extra) =>
        CliRunner.Run(["sample", "--model", "gmm:" + P("gmm.json"), "--sampler", "euler", "--steps", "3", "--num-samples", "2", "--output", output, "--device", "cpu", .. extra]);

    [Test]
    public void ForceReplacesAFolderDkWroteButRefusesAnyOtherFolder()
    {
        Assert.That(Sample(P("out")).Code, Is.Zero);
        Assert.That(File.Exists(Path.Combine(P("out"), OutputMarker.FileName)), "dk marks what it writes");
        var (code, _, err) = Sample(P("out"), "--force");
        Assert.That(code, Is.Zero, err);

        Directory.CreateDirectory(P("mine"));
        File.WriteAllText(P("mine/thesis.tex"), "years of work");
        (code, var stdout, err) = Sample(P("mine"), "--force");
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("not one").And.Contain(OutputMarker.FileName));
        Assert.That(stdout, Does.Not.Contain("sampling"), "refused before any work");
        Assert.That(File.ReadAllText(P("mine/thesis.tex")), Is.EqualTo("years of work"));

        Directory.CreateDirectory(P("empty"));
        Assert.That(Sample(P("empty"), "--force").Code, Is.Zero, "an empty folder holds nothing to lose");
    }

    [Test]
    public void AnOutputThatIsOrHoldsAnInputIsRefused()
    {
        // The folder holding the mixture spec (the model) and the --init file.
        Npy.Write(P("noise.npy"), TestData.Normal(2 * 64, 1), [2, 1, 8, 8]);
        var (code, _, err) = Sample(_dir, "--force");
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("holds the input").And.Contain("gmm.json"));
        Assert.That(File.Exists(P("gmm.json")));

        Directory.CreateDirectory(P("inputs"));
        Npy.Write(P("inputs/noise.npy"), TestData.Normal(2 * 64, 1), [2, 1, 8, 8]);
        OutputMarker.Write(P("inputs"), "complete");
        (code, _, err) = Sample(P("inputs"), "--force", "--init", P("inputs/noise.npy"));
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("noise.npy"));
        Assert.That(File.Exists(P("inputs/noise.npy")), "even a dk-marked folder is kept when it holds an input");
    }

    [Test]
    public void AModelFolderIsNeverAnOutput()
    {
        var model = TinyModel.Write(P("model"));
        var (code, _, err) = CliRunner.Run("sample", "--model", model, "--steps", "2", "--num-samples", "1", "--output", model, "--force", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("is the input"));
        (code, _, err) = CliRunner.Run("study", "--model", model, "--samplers", "euler", "--steps", "2", "--num-samples", "2", "--output", _dir, "--force", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("holds the input"));
        Assert.That(File.Exists(Path.Combine(model, "config.json")) && File.Exists(Path.Combine(model, "diffusion_pytorch_model.safetensors")));
    }

    [Test]
    public void ForwardNeverOverwritesItsInputsOrTheModel()
    {
        var model = TinyModel.Write(P("model"));
        Npy.Write(P("x.npy"), TestData.Normal(64, 2), [1, 1, 8, 8]);
        Npy.Write(P("t.npy"), new long[] { 500 }, [1]);
        var before = File.ReadAllBytes(P("x.npy"));
        foreach (var target in new[] { P("x.npy"), P("t.npy"), Path.Combine(model, "config.json"), Path.Combine(model, "diffusion_pytorch_model.safetensors") })
        {
            var (code, _, err) = CliRunner.Run("forward", "--model", model, "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", target, "--device", "cpu");
            Assert.That(code, Is.EqualTo(CliErrors.UserError), target);
            Assert.That(err, Does.Contain("is the input"), target);
        }
        Assert.That(File.ReadAllBytes(P("x.npy")), Is.EqualTo(before));
        // A link to the input is the input.
        File.CreateSymbolicLink(P("y.npy"), P("x.npy"));
        Assert.That(CliRunner.Run("forward", "--model", model, "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", P("y.npy"), "--device", "cpu").Code,
            Is.EqualTo(CliErrors.UserError));
        Assert.That(File.ReadAllBytes(P("x.npy")), Is.EqualTo(before));
    }

    [Test]
    public void AnUnwritableOutputIsReportedBeforeTheWork()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("uses /proc, where nothing can be created (even by root)");
        var (code, stdout, err) = Sample("/proc/dk-cannot-write-here");
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("cannot write"));
        Assert.That(stdout, Does.Not.Contain("sampling"));
        File.WriteAllText(P("file"), "x");
        (code, _, err) = Sample(P("file/out"));
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("parent does not exist"));
        (code, _, err) = CliRunner.Run("phantoms", "--n", "2", "--output", "/proc/dk.npy");
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("cannot write"));
    }

    [Test]
    public void SpecialFilesAreNeitherReadNorReplaced()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("FIFOs are made with mkfifo on Linux");
        var fifo = P("pipe.npy");
        using (var mk = System.Diagnostics.Process.Start("mkfifo", fifo)) mk.WaitForExit();
        // A reader that got past the checks would block forever; this writer ends such a hang after 20 s.
        new Thread(() => { Thread.Sleep(20_000); try { File.OpenWrite(fifo).Dispose(); } catch (IOException) { } }) { IsBackground = true }.Start();
        var (code, _, err) = Sample(P("out"), "--init", fifo);
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("not a regular file"));
        (code, _, err) = CliRunner.Run("phantoms", "--n", "2", "--output", fifo);
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("FIFO"));
        (code, _, err) = CliRunner.Run("eval", "--samples", fifo);
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("not a regular file"));
    }
}
