using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

public class ForwardCommandTests
{
    private string _dir = "";
    private static string Model(string name) => Fixtures.Path("unet", name);

    [SetUp]
    public void MakeDir() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-fwd-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    /// <summary>Writes the fixture's inputs as .npy files, as a user would pass them.</summary>
    private void WriteInputs(string model)
    {
        using var io = new FixtureFile("unet", model, "io.safetensors");
        Npy.Write(P("x.npy"), io.Floats("x"), io.ShapeOf("x"));
        Npy.Write(P("t.npy"), io.Floats("t").Select(v => (long)v).ToArray(), [2]);
        if (io.Has("labels")) Npy.Write(P("c.npy"), io.Longs("labels"), [2]);
    }

    [Test]
    public void IdentityClassEmbeddingsComeFromAnNpyFile()
    {
        using var io = new FixtureFile("unet", "skip_identity_class", "io.safetensors");
        var shape = io.ShapeOf("x");
        Npy.Write(P("x.npy"), io.Floats("x"), shape);
        Npy.Write(P("t.npy"), io.Floats("t"), [io.Floats("t").Length]);
        var e = io.Floats("class_embeddings");
        Npy.Write(P("e.npy"), e, [shape[0], e.Length / shape[0]]);
        string[] common = ["forward", "--model", Model("skip_identity_class"), "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", P("y.npy"), "--device", "cpu"];
        var (code, _, err) = CliRunner.Run(common);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("--class-embeddings"));
        (code, _, err) = CliRunner.Run([.. common, "--class-embeddings", P("e.npy")]);
        Assert.That(code, Is.Zero, err);
        Close.Assert(io.Floats("y"), Npy.Read(P("y.npy")).Floats!, 1e-4, "dk forward, identity class embeddings");
        Npy.Write(P("bad.npy"), new float[7], [7]);
        (code, _, err) = CliRunner.Run([.. common, "--class-embeddings", P("bad.npy")]);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("bad.npy").And.Contain("class embeddings"));
    }

    [Test]
    public void ForwardWritesThePyTorchOutput()
    {
        WriteInputs("tiny_ddpm");
        var (code, output, err) = CliRunner.Run("forward", "--model", Model("tiny_ddpm"), "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", P("y.npy"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("y.npy"));
        using var io = new FixtureFile("unet", "tiny_ddpm", "io.safetensors");
        var y = Npy.Read(P("y.npy"));
        Assert.That(y.Shape, Is.EqualTo(io.ShapeOf("y")));
        Close.Assert(io.Floats("y"), y.Floats!, 1e-4, "dk forward");
    }

    [Test]
    public void ClassConditionalModelRunsWithLabelsAndFailsWithout()
    {
        WriteInputs("film_classes_f16");
        var (code, _, err) = CliRunner.Run("forward", "--model", Model("film_classes_f16"), "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", P("y.npy"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("class-conditional").And.Contain("--class-labels"));
        (code, _, err) = CliRunner.Run("forward", "--model", Model("film_classes_f16"), "--input", P("x.npy"), "--timesteps", P("t.npy"), "--class-labels", P("c.npy"), "--output", P("y.npy"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
    }

    [Test]
    public void MissingFilesAreNamed()
    {
        WriteInputs("tiny_ddpm");
        var (code, _, err) = CliRunner.Run("forward", "--model", P("no-such-model"), "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", P("y.npy"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("no-such-model"));
        (code, _, err) = CliRunner.Run("forward", "--model", Model("tiny_ddpm"), "--input", P("nothing.npy"), "--timesteps", P("t.npy"), "--output", P("y.npy"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("nothing.npy"));
    }

    [Test]
    public void WrongChannelCountAndShapesAreExplained()
    {
        Npy.Write(P("x.npy"), new float[2 * 4 * 16 * 16], [2, 4, 16, 16]);
        Npy.Write(P("t.npy"), new long[] { 1, 2 }, [2]);
        var (code, _, err) = CliRunner.Run("forward", "--model", Model("tiny_ddpm"), "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", P("y.npy"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("3 channels").And.Contain("[2,4,16,16]"));
        Npy.Write(P("x.npy"), new float[2 * 3 * 16 * 16], [2, 3, 16, 16]);
        Npy.Write(P("t.npy"), new long[] { 1, 2, 3 }, [3]);
        (code, _, err) = CliRunner.Run("forward", "--model", Model("tiny_ddpm"), "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", P("y.npy"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("t.npy").And.Contain("[2] or [1]"));
        Assert.That(File.Exists(P("y.npy")), Is.False, "nothing is written on failure");
    }

    [Test]
    public void CudaWithoutAGpuIsAClearError()
    {
        if (DiffusionKernels.Runtime.Devices.CudaDevices().Count > 0) Assert.Ignore("this machine has CUDA");
        WriteInputs("tiny_ddpm");
        var (code, _, err) = CliRunner.Run("forward", "--model", Model("tiny_ddpm"), "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", P("y.npy"), "--device", "cuda");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("cuda"));
    }

    [Test]
    public void InfoDescribesAModel()
    {
        var (code, output, err) = CliRunner.Run("info", "--model", Model("tiny_ddpm"));
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("parameters: 702,499").And.Contain("GFLOP").And.Contain("activation memory"));
    }
}
