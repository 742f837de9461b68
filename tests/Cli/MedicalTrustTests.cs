using DiffusionKernels.Cli;
using DiffusionKernels.Cli.Commands;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary>
/// The reliability rules of docs/reliability.md on the medical commands (reconstruct, anomaly, medical-eval, eval):
/// outputs never replace inputs or the model, non-finite inputs and results are errors unless allowed, sizes that
/// cannot fit are refused before the run, and images too small for the quality metrics are a clear error.
/// </summary>
[NonParallelizable]
public class MedicalTrustTests
{
    private string _dir = "";
    private string _model = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        _dir = Directory.CreateTempSubdirectory("dk-medtrust-").FullName;
        // The tiny test model at 16×16 (its weights fit any size; the reports' SSIM needs at least 11×11).
        _model = TinyModel.Write(P("model"));
        var config = TinyModel.Config();
        config["sample_size"] = 16;
        File.WriteAllText(Path.Combine(_model, "config.json"), config.ToJsonString());
        var images = HeadPhantom.GenerateBatch(2, 16, 0, false, 2_000_000_000).Images;
        Directory.CreateDirectory(P("inputs"));
        Npy.Write(P("inputs/ph.npy"), images, [2, 1, 16, 16]);
        var nan = (float[])images.Clone();
        nan[5] = float.NaN;
        Npy.Write(P("nan.npy"), nan, [2, 1, 16, 16]);
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Reconstruct(params string[] extra) =>
        CliRunner.Run(["reconstruct", "--model", _model, "--task", "inpaint", "--method", "ddnm", "--steps", "2", "--device", "cpu", .. extra]);

    private (int Code, string Out, string Err) Anomaly(params string[] extra) =>
        CliRunner.Run(["anomaly", "--model", _model, "--steps", "2", "--device", "cpu", .. extra]);

    [Test]
    public void ReconstructNeverReplacesItsInputOrTheModel()
    {
        var before = File.ReadAllBytes(P("inputs/ph.npy"));
        var (code, _, err) = Reconstruct("--input", P("inputs/ph.npy"), "--output", P("inputs"), "--force");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("holds the input"));
        (code, _, err) = Reconstruct("--input", P("inputs/ph.npy"), "--output", _model, "--force");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("is the input"));
        Assert.That(File.ReadAllBytes(P("inputs/ph.npy")), Is.EqualTo(before));
        Assert.That(File.Exists(Path.Combine(_model, "config.json")));
        // The same run into a fresh folder succeeds: the refusals were about the paths alone.
        (code, _, err) = Reconstruct("--input", P("inputs/ph.npy"), "--output", P("out"));
        Assert.That(code, Is.Zero, err);
        Assert.That(Npy.Read(P("out/recon.npy")).Shape, Is.EqualTo(new[] { 2, 1, 16, 16 }));
    }

    [Test]
    public void AnomalyNeverReplacesItsInputsOrTheModel()
    {
        Npy.Write(P("inputs/masks.npy"), new float[2 * 256], [2, 1, 16, 16]);
        var (code, _, err) = Anomaly("--input", P("ph.npy"), "--masks", P("inputs/masks.npy"), "--output", P("inputs"), "--force");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("holds the input"));
        (code, _, err) = Anomaly("--input", P("inputs/ph.npy"), "--output", _model, "--force");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("is the input"));
        Assert.That(File.Exists(P("inputs/masks.npy")) && File.Exists(Path.Combine(_model, "config.json")));
    }

    [Test]
    public void MedicalEvalNeverReplacesTheModel()
    {
        var (code, _, err) = CliRunner.Run("medical-eval", "--model", _model, "--n", "1", "--validation-n", "1", "--tasks", "denoise", "--output", _model, "--force", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("is the input"));
        Assert.That(File.Exists(Path.Combine(_model, "config.json")));
    }

    [Test]
    public void NonFiniteInputsAreErrorsUnlessAllowed()
    {
        var (code, _, err) = Reconstruct("--input", P("nan.npy"), "--output", P("out"));
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("nan.npy").And.Contain("non-finite").And.Contain("--allow-nonfinite"));
        Assert.That(Directory.Exists(P("out")), Is.False);
        (code, _, err) = Anomaly("--input", P("nan.npy"), "--output", P("an"));
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("nan.npy").And.Contain("non-finite"));
        Assert.That(Directory.Exists(P("an")), Is.False);
    }

    [Test]
    public void AllowedNonFiniteInputsRunAndTheNonFiniteResultIsWrittenWithAWarning()
    {
        var (code, _, err) = Reconstruct("--input", P("nan.npy"), "--output", P("out"), "--allow-nonfinite");
        Assert.That(code, Is.Zero, err);
        Assert.That(err, Does.Contain("warning").And.Contain("nan.npy"));
        Assert.That(err, Does.Contain("recon.npy holds"), "the non-finite result is reported when it is written");
        Assert.That(Npy.Read(P("out/recon.npy")).AsFloat32().Any(float.IsNaN));
    }

    [Test]
    public void NonFiniteResultsAreExitCodeThreeAndNamed()
    {
        var e = Assert.Throws<NumericalInstabilityException>(() =>
            MedicalInputs.RequireFiniteResults(false, ("recon.npy", [0f, 1f]), ("std.npy", null), ("map.npy", [float.NaN, float.PositiveInfinity, 0f])))!;
        Assert.That(e.Message, Does.Contain("map.npy").And.Contain("2 NaN/Inf values").And.Contain("nothing was written"));
        Assert.That(CliErrors.Run(() => throw e), Is.EqualTo(CliErrors.NonFiniteResult));
        Assert.DoesNotThrow(() => MedicalInputs.RequireFiniteResults(true, ("map.npy", [float.NaN])));
    }

    [Test]
    public void ResultsThatCannotFitAreRefusedBeforeTheRun()
    {
        // 10,000 phantoms of the bundled model's 64×64 with 1,000 posterior samples each would need hundreds of GiB.
        var (code, _, err) = CliRunner.Run("medical-eval", "--n", "10000", "--posterior-samples", "1000", "--tasks", "uncertainty", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("10000 phantoms").And.Contain("needs").And.Contain("of memory"));
        var huge = MemoryBudget.HostBytes / (64L * 4) + 1;
        var ex = Assert.Throws<InsufficientMemoryException>(() => MedicalInputs.EnsureResultsFit("the test", 2, [1, 8, 8], huge))!;
        Assert.That(ex.Message, Does.StartWith("the test"));
        Assert.DoesNotThrow(() => MedicalInputs.EnsureResultsFit("the test", 2, [1, 8, 8], 7));
    }

    [Test]
    public void ReconstructRefusesPosteriorSamplesThatCannotFit()
    {
        // 1,000 posterior samples in two units of enough 16×16 images to pass what this machine makes available.
        long per = 256, arrays = 2 * 1000 + 9;
        int count = (int)Math.Min(int.MaxValue / per, MemoryBudget.HostBytes / (arrays * per * sizeof(float)) + 1);
        if ((long)count * per * sizeof(float) > 512L << 20) Assert.Inconclusive("this machine has too much memory for a small input file to exceed it");
        Npy.Write(P("many.npy"), new float[count * per], [count, 1, 16, 16]);
        var (code, _, err) = Reconstruct("--input", P("many.npy"), "--posterior-samples", "1000", "--output", P("out"));
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("--posterior-samples 1000").And.Contain("needs"));
        Assert.That(Directory.Exists(P("out")), Is.False);
    }

    [Test]
    public void ModelsTooSmallForTheReportedSsimAreRefusedBeforeTheRun()
    {
        var small = TinyModel.Write(P("model8"));
        Npy.Write(P("ph8.npy"), HeadPhantom.GenerateBatch(1, 8, 0, false, 2_000_000_000).Images, [1, 1, 8, 8]);
        var (code, _, err) = CliRunner.Run("reconstruct", "--model", small, "--task", "inpaint", "--input", P("ph8.npy"), "--steps", "2", "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("8×8").And.Contain("11×11").And.Contain("SSIM"));
        (code, _, err) = CliRunner.Run("medical-eval", "--model", small, "--n", "1", "--validation-n", "1", "--tasks", "denoise", "--device", "cpu");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("8×8").And.Contain("11×11"));
    }

    [Test]
    public void EvalOnImagesSmallerThanTheSlicedSizeIsAClearError()
    {
        Npy.Write(P("small.npy"), new float[4 * 64], [4, 1, 8, 8]);
        var (code, _, err) = CliRunner.Run("eval", "--samples", P("small.npy"), "--reference-count", "2");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("small.npy").And.Contain("8×8").And.Contain("16×16"));
    }
}
