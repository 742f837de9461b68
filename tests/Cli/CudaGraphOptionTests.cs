using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary><c>--cuda-graph</c>: refused by name where no graph can be captured, a no-op as <c>auto</c> or <c>off</c> on the CPU.</summary>
public class CudaGraphOptionTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("dk-graph-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [TestCase("bench")]
    [TestCase("sample")]
    public void OnForTheCpuIsAnErrorNamingTheOption(string command)
    {
        var model = TinyModel.Write(Path.Combine(_dir, "tiny"));
        string[] args = command == "bench"
            ? ["bench", "unet", "--model", model, "--iters", "1", "--device", "cpu", "--cuda-graph", "on"]
            : ["sample", "--model", model, "--steps", "2", "--num-samples", "1", "--output", Path.Combine(_dir, "out"), "--device", "cpu", "--cuda-graph", "on"];
        var (code, _, err) = CliRunner.Run(args);
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain("--cuda-graph on").And.Contain("cpu is not a CUDA device"));
    }

    [TestCase("auto")]
    [TestCase("off")]
    public void AutoAndOffRunEagerlyOnTheCpu(string mode)
    {
        var model = TinyModel.Write(Path.Combine(_dir, "tiny"));
        var (code, output, err) = CliRunner.Run("bench", "unet", "--model", model, "--iters", "1", "--device", "cpu", "--cuda-graph", mode);
        Assert.That(code, Is.Zero, err);
        Assert.That(output + err, Does.Contain("cuda graph: off"));
    }

    [Test]
    public void AnUnknownValueIsRefused()
    {
        var (code, _, err) = CliRunner.Run("bench", "unet", "--model", TinyModel.Write(Path.Combine(_dir, "tiny")), "--device", "cpu", "--cuda-graph", "maybe");
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain("maybe"));
    }
}
