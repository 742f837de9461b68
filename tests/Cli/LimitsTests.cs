using DiffusionKernels.Cli;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary>Sizes that overflow or cannot fit are clear errors (exit code 2) before anything is allocated.</summary>
public class LimitsTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        _dir = Directory.CreateTempSubdirectory("dk-limits-").FullName;
        File.WriteAllText(P("gmm.json"), """{"shape": [1, 8, 8], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2]}""");
        Npy.Write(P("s.npy"), TestData.Uniform(2 * 256, 1), [2, 1, 16, 16]);
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [TestCase("phantoms --n 1000000000", "more than one array holds")]
    [TestCase("phantoms --size 100000", "--size must be in [8, 16384]")]
    [TestCase("phantoms --n 70000 --size 256", "more than one array holds")]
    [TestCase("phantoms --n 1e9", "Cannot parse argument '1e9'")]
    [TestCase("phantoms --n 0", "--n must be ≥ 1")]
    [TestCase("phantoms --size 7", "--size must be in [8, 16384]")]
    [TestCase("phantoms --first-index -1", "--first-index must be ≥ 0")]
    public void PhantomSizes(string args, string expected) => ExpectUserError(args + " --output " + P("p.npy"), expected, P("p.npy"));

    [TestCase("--num-samples 1000000000", "--num-samples 1000000000 samples of [1,8,8]")]
    [TestCase("--num-samples 1e9", "Cannot parse argument")]
    [TestCase("--num-samples 3000000000", "Cannot parse argument")]
    [TestCase("--steps 1000000000", "--steps must be in [1, 100000]")]
    [TestCase("--strength 0", "--strength must be in (0, 1]")]
    [TestCase("--batch-size 0", "--batch-size must be ≥ 1")]
    [TestCase("--sampler euler_ancestral --eta NaN", "--eta must be a finite number")]
    [TestCase("--sampler heun --s-churn Infinity", "--s-churn must be a finite number")]
    public void SampleSizes(string args, string expected) =>
        ExpectUserError($"sample --model gmm:{P("gmm.json")} --device cpu --output {P("out")} {args}", expected, P("out"));

    [TestCase("--reference-count 100000000", "--reference-count 100000000 phantoms of 16×16")]
    [TestCase("--samples-range 0,1 --reference-count 10000000", "more than one array holds")]
    [TestCase("--reference-count 1e8", "Cannot parse argument")]
    [TestCase("--reference-count 1", "--reference-count must be ≥ 2")]
    [TestCase("--samples-range 1,1", "--samples-range")]
    [TestCase("--samples-range -Infinity,Infinity", "--samples-range")]
    public void EvalSizes(string args, string expected) => ExpectUserError($"eval --samples {P("s.npy")} {args}", expected, null);

    [Test]
    public void AModelTooLargeForTheMachineIsRefusedBeforeAllocating()
    {
        var model = TinyModel.Write(P("model"));
        var config = TinyModel.Config();
        config["sample_size"] = 16384;
        File.WriteAllText(Path.Combine(model, "config.json"), config.ToJsonString());
        // 64 × 16384² pixels × 26 channels: terabytes, on any machine.
        ExpectUserError($"sample --model {model} --batch-size 64 --num-samples 64 --device cpu --output {P("out")}", "more than the", P("out"));
    }

    private static void ExpectUserError(string commandLine, string expected, string? mustNotExist)
    {
        var (code, _, err) = CliRunner.Run(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain(expected));
        Assert.That(err, Does.Not.Contain("internal error"));
        if (mustNotExist is not null) Assert.That(File.Exists(mustNotExist) || Directory.Exists(mustNotExist), Is.False, "nothing was written");
    }
}
