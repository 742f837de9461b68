using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime.IO;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

public class ReconstructCommandTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-recon-" + Guid.NewGuid().ToString("N")));
        var (images, masks) = HeadPhantom.GenerateBatch(2, 64, 0, lesions: true, firstIndex: 2_000_000_000);
        Npy.Write(P("ph.npy"), images, [2, 1, 64, 64]);
        Npy.Write(P("lesions.npy"), masks!, [2, 1, 64, 64]);
        Npy.Write(P("bad_mask.npy"), new float[32 * 32], [32, 32]);
        Npy.Write(P("half_mask.npy"), Enumerable.Repeat(0.5f, 64 * 64).ToArray(), [64, 64]);
        Npy.Write(P("wrong_size.npy"), new float[2 * 32 * 32], [2, 1, 32, 32]);
        Npy.Write(P("out_of_range.npy"), Enumerable.Repeat(3f, 64 * 64).ToArray(), [1, 1, 64, 64]);
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void MriReconstructionWritesTheFolderAndBeatsZeroFilled()
    {
        var (code, output, err) = CliRunner.Run("reconstruct", "--task", "mri", "--input", P("ph.npy"), "--steps", "8", "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        var lines = output.Split('\n');
        double Psnr(string prefix) => double.Parse(lines.First(l => l.StartsWith(prefix, StringComparison.Ordinal)).Split("PSNR")[1].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(Psnr("diffusion"), Is.GreaterThan(Psnr("zero-filled") + 3), output);
        Assert.That(Npy.Read(P("out/recon.npy")).Shape, Is.EqualTo(new[] { 2, 1, 64, 64 }));
        Assert.That(Npy.Read(P("out/measurement.npy")).Shape, Is.EqualTo(new[] { 2, 2, 64, 64 }));
        Assert.That(Npy.Read(P("out/mask.npy")).Shape, Is.EqualTo(new[] { 64, 64 }));
        foreach (var f in new[] { "input_0000.png", "naive_0001.png", "recon_grid.png", "error_0000.png" }) Assert.That(File.Exists(P("out/" + f)), f);
        Assert.That(Directory.GetDirectories(_dir), Has.Length.EqualTo(1), "no partial folder left behind");
    }

    [Test]
    public void AnomalyCommandPrintsAurocAndDice()
    {
        var (code, output, err) = CliRunner.Run("anomaly", "--input", P("ph.npy"), "--masks", P("lesions.npy"), "--steps", "6", "--output", P("an"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("AUROC").And.Contain("Dice").And.Contain("AP").And.Contain("image AUROC: n/a"));
        Assert.That(Npy.Read(P("an/map.npy")).Shape, Is.EqualTo(new[] { 2, 1, 64, 64 }));
        Assert.That(File.Exists(P("an/segmentation_0001.png")));
    }

    [TestCase("--task", "ct", "--task must be one of")]
    [TestCase("--acceleration", "3", "--acceleration 3 has no default centre fraction")]
    [TestCase("--acceleration", "100", "--acceleration must be in [2, 64]")]
    [TestCase("--center-fraction", "1.5", "--center-fraction")]
    [TestCase("--method", "dps", "--method must be one of")]
    [TestCase("--posterior-samples", "0", "--posterior-samples must be in [1, 1000]")]
    [TestCase("--snr", "-1", "--snr")]
    [TestCase("--snr", "NaN", "--snr")]
    [TestCase("--jump-count", "1000", "--jump-count")]
    [TestCase("--batch-size", "0", "--batch-size")]
    [TestCase("--steps", "1000000000", "--steps must be in [1, 100000]")]
    [TestCase("--noise-sigma", "1e9", "--noise-sigma")]
    [TestCase("--mask-type", "radial", "--mask-type")]
    [TestCase("--method", "repaint", "--method repaint is for --task inpaint")]
    [TestCase("--sampler", "nope", "unknown sampler")]
    [TestCase("--steps", "0", "--steps")]
    [TestCase("--mask", "bad_mask.npy", "expected a mask [64, 64]")]
    [TestCase("--mask", "half_mask.npy", "mask values must be 0 or 1")]
    [TestCase("--input", "wrong_size.npy", "the model's sample shape")]
    [TestCase("--input", "out_of_range.npy", "must be in [0, 1]")]
    [TestCase("--input", "missing.npy", "does not exist")]
    [TestCase("--noise-sigma", "-1", "--noise-sigma")]
    public void BadOptionsAreClearErrors(string option, string value, string expected)
    {
        var args = new List<string> { "reconstruct", "--task", "mri", "--input", P("ph.npy"), "--output", P("out"), "--device", "cpu" };
        int at = args.IndexOf(option);
        if (value.EndsWith(".npy", StringComparison.Ordinal)) value = P(value);
        if (at >= 0) args[at + 1] = value;
        else args.AddRange([option, value]);
        var (code, _, err) = CliRunner.Run([.. args]);
        Assert.That(code, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain(expected));
        Assert.That(Directory.Exists(P("out")), Is.False);
    }

    [TestCase("--t", "1000", "--t must be in")]
    [TestCase("--t", "0", "--t must be in")]
    [TestCase("--masks", "bad_mask.npy", "one mask per input image")]
    [TestCase("--percentile", "100", "--percentile")]
    [TestCase("--smoothing", "1e9", "--smoothing must be a finite number in [0, 1000]")]
    [TestCase("--smoothing", "-1", "--smoothing")]
    [TestCase("--threshold", "Infinity", "--threshold")]
    [TestCase("--steps", "0", "--steps")]
    public void BadAnomalyOptionsAreClearErrors(string option, string value, string expected)
    {
        if (value.EndsWith(".npy", StringComparison.Ordinal)) value = P(value);
        var (code, _, err) = CliRunner.Run("anomaly", "--input", P("ph.npy"), option, value, "--output", P("an"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain(expected));
        Assert.That(Directory.Exists(P("an")), Is.False);
    }

    [TestCase("--tasks", "mri,ct", "unknown task 'ct'")]
    [TestCase("--n", "0", "--n")]
    [TestCase("--n", "1000000000", "--n must be in")]
    [TestCase("--max-iterations", "-1", "--max-iterations")]
    [TestCase("--tolerance", "0", "--tolerance")]
    [TestCase("--methods", "ddnm,dps", "--methods: unknown method 'dps'")]
    [TestCase("--study-steps", "10,x", "--study-steps: 'x'")]
    [TestCase("--mask-seeds", "0", "--mask-seeds")]
    [TestCase("--mask-type", "radial", "--mask-type")]
    public void BadEvaluationOptionsAreClearErrors(string option, string value, string expected)
    {
        var (code, _, err) = CliRunner.Run("medical-eval", option, value, "--device", "cpu");
        Assert.That(code, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain(expected));
    }

    [Test]
    public void EvaluationTablesOnTwoPhantoms()
    {
        var (code, output, err) = CliRunner.Run("medical-eval", "--n", "2", "--validation-n", "2", "--mask-seeds", "2", "--steps", "3", "--max-iterations", "30",
            "--tasks", "mri,denoise,anomaly", "--anomaly-steps", "2", "--output", P("eval"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("| 4× (16/64 rows) | DDNM (ddpm) |").And.Contain("| 8× (8/64 rows) | TV-DC [0,1] |").And.Contain("DDNM time travel"));
        Assert.That(output, Does.Contain("SDEdit").And.Contain("(tuned)").And.Contain("| low-contrast |"));
        var md = File.ReadAllText(P("eval/medical-eval.md"));
        Assert.That(md, Does.Contain("|---|").And.Contain("Gaussian filter").And.Contain("image AUROC").And.Contain("± over mask seeds"));
    }

    [Test]
    public void ReconstructionWithPosteriorSamplesWritesTheStdAndCalibration()
    {
        var (code, output, err) = CliRunner.Run("reconstruct", "--task", "mri", "--input", P("ph.npy"), "--acceleration", "8", "--method", "time-travel", "--steps", "4",
            "--jump-length", "2", "--posterior-samples", "2", "--output", P("pt"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("effective acceleration 8.00×").And.Contain("coverage of the truth by ±2σ").And.Contain("measurement residual"));
        Assert.That(Npy.Read(P("pt/std.npy")).Shape, Is.EqualTo(new[] { 2, 1, 64, 64 }));
    }
}
