using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary><c>dk sample</c> with the model's own diffusers scheduler (the default when its config names a class).</summary>
public class DiffusersSampleCommandTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-diffusers-" + Guid.NewGuid().ToString("N")));
        const string mixture = "\"shape\": [1, 8, 8], \"weights\": [0.3, 0.7], \"means\": [-0.8, 0.6], \"stds\": [0.1, 0.2]";
        File.WriteAllText(P("ddim.json"), $$"""{{{mixture}}, "_class_name": "DDIMScheduler", "clip_sample": false, "timestep_spacing": "trailing"}""");
        File.WriteAllText(P("euler.json"), $$"""{{{mixture}}, "_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": true}""");
        File.WriteAllText(P("plain.json"), $$"""{{{mixture}}}""");
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void AConfigThatNamesAClassRunsThatScheduler()
    {
        var (code, output, err) = CliRunner.Run("sample", "--model", "gmm:" + P("euler.json"), "--steps", "15", "--num-samples", "32",
            "--batch-size", "16", "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("sampler diffusers EulerDiscreteScheduler").And.Contain("NFE 30"));
        var s = Npy.Read(P("out/samples.npy"));
        var means = Enumerable.Range(0, 32).Select(k => s.Floats!.Skip(k * 64).Take(64).Average()).ToArray();
        Assert.That(means, Is.All.InRange(-1.0f, -0.6f).Or.InRange(0.4f, 0.8f), "every sample lands in one of the two components");
    }

    /// <summary>--init is the unit-variance latents a pipeline draws; the CLI gives what the library gives from them.</summary>
    [Test]
    public void InitLatentsGiveTheLibrarysResult()
    {
        var latents = TestData.Normal(3 * 64, 21);
        Npy.Write(P("init.npy"), latents, [3, 1, 8, 8]);
        var (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P("ddim.json"), "--steps", "7", "--num-samples", "3",
            "--init", P("init.npy"), "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        using var model = DiffusionModel.Open("gmm:" + P("ddim.json"), TestBackends.Cpu, 3);
        var expected = SampleRunner.Draw(model, DiffusersScheduler.FromConfig(model.Schedule), 7, 3, new SamplerOptions(), latents);
        Close.Assert(expected, Npy.Read(P("out/samples.npy")).AsFloat32(), 1e-6, "dk sample --init");
    }

    [Test]
    public void EtaIsDdimsAndWorksFromTheCommandLine()
    {
        var (code, output, err) = CliRunner.Run("sample", "--model", "gmm:" + P("ddim.json"), "--steps", "5", "--num-samples", "2", "--eta", "1",
            "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("DDIMScheduler"));
        (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P("euler.json"), "--steps", "5", "--num-samples", "2", "--eta", "1",
            "--output", P("out2"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("DDIMScheduler only"));
    }

    [TestCase("euler.json", "--sigmas", "karras", "--sigmas applies to explicit samplers")]
    [TestCase("euler.json", "--s-churn", "0.5", "--s-churn")]
    [TestCase("plain.json", "--sampler", "diffusers", "_class_name")]
    [TestCase("plain.json", "--sampler", "difusers", "diffusers, euler")]
    public void OptionsThatDoNotApplyAreClearErrors(string spec, string option, string value, string expected)
    {
        var (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P(spec), option, value, "--steps", "3", "--num-samples", "2",
            "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain(expected));
        Assert.That(Directory.Exists(P("out")), Is.False);
    }

    [Test]
    public void AnExplicitSamplerKeepsTheSigmaSpaceConvention()
    {
        var (code, output, err) = CliRunner.Run("sample", "--model", "gmm:" + P("euler.json"), "--sampler", "euler", "--steps", "6", "--num-samples", "2",
            "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("sampler euler,").And.Contain("NFE 6"));
    }
}
