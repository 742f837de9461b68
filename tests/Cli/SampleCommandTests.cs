using DiffusionKernels.Runtime.IO;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

public class SampleCommandTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-sample-" + Guid.NewGuid().ToString("N")));
        File.WriteAllText(P("gmm.json"), """{"shape": [1, 8, 8], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2], "beta_schedule": "linear"}""");
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void SamplesAGaussianMixtureIntoAFreshFolder()
    {
        var (code, output, err) = CliRunner.Run("sample", "--model", "gmm:" + P("gmm.json"), "--sampler", "heun", "--steps", "12", "--num-samples", "64",
            "--batch-size", "24", "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("NFE").And.Contain("images/s"));
        var s = Npy.Read(P("out/samples.npy"));
        Assert.That(s.Shape, Is.EqualTo(new[] { 64, 1, 8, 8 }));
        var means = Enumerable.Range(0, 64).Select(k => s.Floats!.Skip(k * 64).Take(64).Average()).ToArray();
        Assert.That(means, Is.All.InRange(-1.0f, -0.6f).Or.InRange(0.4f, 0.8f), "every sample lands in one of the two components");
        Assert.That(File.Exists(P("out/grid.png")) && File.Exists(P("out/sample_0063.png")));
        Assert.That(Directory.GetDirectories(_dir), Has.Length.EqualTo(1), "no partial folder left behind");
    }

    [Test]
    public void AnExistingFolderIsKeptWithoutForce()
    {
        Directory.CreateDirectory(P("out"));
        File.WriteAllText(P("out/keep.txt"), "x");
        var (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P("gmm.json"), "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("--force"));
        Assert.That(File.Exists(P("out/keep.txt")));
    }

    [TestCase("--sampler", "plms_fast", "unknown sampler")]
    [TestCase("--num-samples", "0", "--num-samples")]
    [TestCase("--steps", "0", "--steps")]
    public void BadOptionsAreClearErrors(string option, string value, string expected)
    {
        var (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P("gmm.json"), option, value, "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain(expected));
        Assert.That(Directory.Exists(P("out")), Is.False);
    }

    [Test]
    public void EtaForADeterministicSamplerAndAMissingModelAreErrors()
    {
        var (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P("gmm.json"), "--sampler", "heun", "--eta", "0.5", "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("η"));
        (code, _, err) = CliRunner.Run("sample", "--model", P("missing-model"), "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("missing-model"));
    }
}
