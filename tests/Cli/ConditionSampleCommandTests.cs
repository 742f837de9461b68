using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary><c>dk sample --condition</c>: one sample per condition or an ensemble each, and errors that name the option and file.</summary>
public class ConditionSampleCommandTests
{
    private string _dir = "", _model = "";

    [SetUp]
    public void Write()
    {
        _dir = Directory.CreateTempSubdirectory("dk-condcli-").FullName;
        _model = TinyModel.Write(Path.Combine(_dir, "model"), configure: c => c["in_channels"] = 2);
    }

    [TearDown]
    public void Remove() => Directory.Delete(_dir, true);

    private string Npy(string name, float[] values, params int[] shape)
    {
        var path = Path.Combine(_dir, name);
        DiffusionKernels.Runtime.IO.Npy.Write(path, values, shape);
        return path;
    }

    private static float[] Images(int n, int seed) => TestData.Normal(n * 64, seed).Select(v => Math.Clamp(0.5f + 0.2f * v, 0, 1)).ToArray();

    [Test]
    public void OneSamplePerConditionOrAnEnsembleOfEach()
    {
        var images = Images(3, 1);
        var cond = Npy("cond.npy", images, 3, 1, 8, 8);
        string output = Path.Combine(_dir, "out");
        var (code, stdout, err) = CliRunner.Run("sample", "--model", _model, "--condition", cond, "--steps", "2", "--sampler", "euler", "--output", output);
        Assert.That(code, Is.EqualTo(0), err);
        Assert.That(stdout, Does.Contain("3 conditions × 1, 3 samples"));
        Assert.That(Runtime.IO.Npy.Read(Path.Combine(output, "samples.npy")).Shape, Is.EqualTo(new[] { 3, 1, 8, 8 }));

        (code, _, err) = CliRunner.Run("sample", "--model", _model, "--condition", cond, "--num-samples", "2", "--steps", "2", "--sampler", "euler", "--seed", "5",
            "--output", output, "--force");
        Assert.That(code, Is.EqualTo(0), err);
        var got = Runtime.IO.Npy.Read(Path.Combine(output, "samples.npy"));
        Assert.That(got.Shape, Is.EqualTo(new[] { 6, 1, 8, 8 }));
        // The same request through the library: conditions mapped from [0, 1] to the model's [−1, 1].
        using var pipeline = DiffusionPipeline.Open(_model, TestBackends.Cpu);
        var want = pipeline.Generate(new GenerationRequest
        {
            Condition = images.Select(v => v * 2 - 1).ToArray(),
            NumSamples = 2,
            Steps = 2,
            Sampler = "euler",
            Seed = 5,
        });
        Assert.That(got.AsFloat32(), Is.EqualTo(want.Samples));
    }

    [Test]
    public void APngConditionIsOneCondition()
    {
        var png = Path.Combine(_dir, "cond.png");
        SampleImages.SavePng(png, Images(1, 2), [1, 1, 8, 8], 0, 0, 1);
        string output = Path.Combine(_dir, "out");
        var (code, _, err) = CliRunner.Run("sample", "--model", _model, "--condition", png, "--num-samples", "3", "--steps", "2", "--sampler", "euler", "--output", output);
        Assert.That(code, Is.EqualTo(0), err);
        Assert.That(Runtime.IO.Npy.Read(Path.Combine(output, "samples.npy")).Shape, Is.EqualTo(new[] { 3, 1, 8, 8 }));
    }

    [Test]
    public void ConditionsThatDoNotFitNameTheOptionAndFile()
    {
        string output = Path.Combine(_dir, "out");
        string Fails(params string[] args)
        {
            var (code, _, err) = CliRunner.Run(["sample", "--steps", "2", "--output", output, .. args]);
            Assert.That(code, Is.Not.EqualTo(0));
            Assert.That(Directory.Exists(output), Is.False, "nothing is written");
            return err;
        }
        var twoChannels = Npy("two.npy", new float[2 * 2 * 64], 2, 2, 8, 8);
        Assert.That(Fails("--model", _model, "--condition", twoChannels), Does.Contain($"--condition {twoChannels}: 2 channels per condition, but the model takes 1 (in_channels − out_channels)"));
        var small = Npy("small.npy", new float[2 * 16], 2, 1, 4, 4);
        Assert.That(Fails("--model", _model, "--condition", small), Does.Contain($"--condition {small}: conditions are 4×4, the model's images are 8×8"));
        Assert.That(Fails("--model", _model), Does.Contain($"{_model}: the model is image-conditioned (1 condition channel of 8×8); give --condition"));
        var plain = TinyModel.Write(Path.Combine(_dir, "plain"));
        var fits = Npy("fits.npy", Images(2, 3), 2, 1, 8, 8);
        Assert.That(Fails("--model", plain, "--condition", fits), Does.Contain($"--condition {fits}: the model {plain} is not image-conditioned"));
        // --init holds the noise of every sample: 2 conditions × 2 samples = 4, not 3.
        var noise = Npy("noise.npy", new float[3 * 64], 3, 1, 8, 8);
        Assert.That(Fails("--model", _model, "--condition", fits, "--num-samples", "2", "--init", noise, "--sampler", "euler"),
            Does.Contain($"{noise}: --init must hold 4 samples of [1,8,8] (2 --condition images × --num-samples 2)"));
        Assert.That(Fails("--model", _model, "--condition", fits, "--class-label", "1"), Does.Contain("--condition and --class-label"));
        var missing = Path.Combine(_dir, "missing.npy");
        Assert.That(Fails("--model", _model, "--condition", missing), Does.Contain(missing));
    }
}
