using System.Text.Json;
using DiffusionKernels.Cli;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary>
/// <c>--json</c>: stdout is one JSON object with the documented fields (docs/cli.md) and nothing else; the human text
/// goes to stderr; a failure still prints the object, with <c>ok</c> false, the exit code and the message.
/// </summary>
public class JsonOutputTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        _dir = Directory.CreateTempSubdirectory("dk-json-").FullName;
        File.WriteAllText(P("gmm.json"), """{"shape": [1, 16, 16], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2], "beta_schedule": "linear"}""");
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    /// <summary>Runs dk with --json, checks the common fields and returns the object.</summary>
    private static JsonElement Json(string command, int expectedCode, params string[] args)
    {
        var (code, stdout, err) = CliRunner.Run([.. args, "--json"]);
        Assert.That(code, Is.EqualTo(expectedCode), err);
        using var doc = JsonDocument.Parse(stdout); // throws unless stdout is exactly one JSON value
        var root = doc.RootElement.Clone();
        Assert.That(root.ValueKind, Is.EqualTo(JsonValueKind.Object));
        Assert.That(root.GetProperty("command").GetString(), Is.EqualTo(command));
        Assert.That(root.GetProperty("exit_code").GetInt32(), Is.EqualTo(expectedCode));
        Assert.That(root.GetProperty("ok").GetBoolean(), Is.EqualTo(expectedCode == 0));
        foreach (var key in new[] { "settings", "timings", "metrics" }) Assert.That(root.GetProperty(key).ValueKind, Is.EqualTo(JsonValueKind.Object), key);
        Assert.That(root.GetProperty("files").ValueKind, Is.EqualTo(JsonValueKind.Array));
        Assert.That(root.GetProperty("timings").GetProperty("total_seconds").GetDouble(), Is.GreaterThan(0));
        if (expectedCode == 0) Assert.That(root.TryGetProperty("error", out _), Is.False);
        return root;
    }

    private static string[] Files(JsonElement root) => [.. root.GetProperty("files").EnumerateArray().Select(f => f.GetString()!)];

    [Test]
    public void Sample()
    {
        var root = Json("sample", 0, "sample", "--model", "gmm:" + P("gmm.json"), "--sampler", "dpmpp_2m", "--steps", "3", "--num-samples", "2",
            "--seed", "5", "--output", P("out"), "--device", "cpu");
        Assert.That(root.GetProperty("device").GetString(), Does.StartWith("cpu"));
        Assert.That(root.GetProperty("output").GetString(), Is.EqualTo(P("out")));
        var settings = root.GetProperty("settings");
        Assert.That(settings.GetProperty("sampler").GetString(), Is.EqualTo("dpmpp_2m"));
        Assert.That(settings.GetProperty("steps").GetInt32(), Is.EqualTo(3));
        Assert.That(settings.GetProperty("seed").GetUInt64(), Is.EqualTo(5));
        Assert.That(settings.GetProperty("num_samples").GetInt32(), Is.EqualTo(2));
        Assert.That(root.GetProperty("metrics").GetProperty("nfe").GetInt32(), Is.EqualTo(3));
        Assert.That(root.GetProperty("metrics").GetProperty("images_per_second").GetDouble(), Is.GreaterThan(0));
        Assert.That(root.GetProperty("timings").GetProperty("sampling_seconds").GetDouble(), Is.GreaterThan(0));
        var files = Files(root);
        Assert.That(files, Does.Contain(P("out/samples.npy")).And.Contain(P("out/grid.png")).And.Contain(P("out/sample_0001.png")));
        Assert.That(files, Is.All.Matches<string>(File.Exists));
    }

    [Test]
    public void AFailureStillPrintsTheObjectWithTheExitCode()
    {
        var root = Json("sample", CliErrors.UserError, "sample", "--model", "gmm:" + P("gmm.json"), "--steps", "0", "--output", P("out"), "--device", "cpu");
        Assert.That(root.GetProperty("error").GetString(), Does.Contain("--steps"));
        Assert.That(Files(root), Is.Empty);
        Assert.That(Directory.Exists(P("out")), Is.False);
    }

    [Test]
    public void Info()
    {
        var root = Json("info", 0, "info");
        Assert.That(root.GetProperty("devices").GetArrayLength(), Is.GreaterThan(0));
        Assert.That(root.GetProperty("device").GetString(), Is.Not.Empty);
        var model = Json("info", 0, "info", "--model", TinyModel.Write(P("tiny"))).GetProperty("model");
        Assert.That(model.GetProperty("parameters").GetInt64(), Is.GreaterThan(0));
        Assert.That(model.GetProperty("gflop_per_forward").GetDouble(), Is.GreaterThan(0));
        Assert.That(model.GetProperty("channels").EnumerateArray().Select(c => c.GetInt32()), Is.EqualTo(new[] { 8, 16 }));
    }

    [Test]
    public void BenchUnet()
    {
        var root = Json("bench unet", 0, "bench", "unet", "--model", TinyModel.Write(P("tiny")), "--iters", "2", "--device", "cpu");
        Assert.That(root.GetProperty("device").GetString(), Does.StartWith("cpu"));
        Assert.That(root.GetProperty("settings").GetProperty("iters").GetInt32(), Is.EqualTo(2));
        var metrics = root.GetProperty("metrics");
        Assert.That(metrics.GetProperty("ms_per_forward").GetDouble(), Is.GreaterThan(0));
        Assert.That(metrics.GetProperty("images_per_second").GetDouble(), Is.GreaterThan(0));
        Assert.That(metrics.GetProperty("launches").GetInt32(), Is.GreaterThan(0));
    }

    [Test]
    public void Eval()
    {
        Npy.Write(P("s.npy"), TestData.Uniform(4 * 256, 3, -1, 1), [4, 1, 16, 16]);
        var root = Json("eval", 0, "eval", "--samples", P("s.npy"), "--reference-count", "4");
        Assert.That(root.GetProperty("settings").GetProperty("sample_count").GetInt32(), Is.EqualTo(4));
        foreach (var set in new[] { "samples", "noise_baseline", "real_vs_real" })
            foreach (var score in new[] { "sliced_w", "histogram_w1", "spectrum" })
                Assert.That(root.GetProperty("metrics").GetProperty(set).GetProperty(score).GetDouble(), Is.GreaterThanOrEqualTo(0), $"{set}.{score}");
    }

    [Test]
    public void Study()
    {
        var root = Json("study", 0, "study", "--model", "gmm:" + P("gmm.json"), "--samplers", "euler,heun", "--steps", "2,3", "--num-samples", "4",
            "--reference-count", "16", "--ode-tolerance", "0", "--output", P("study"), "--device", "cpu");
        var runs = root.GetProperty("metrics").GetProperty("runs").EnumerateArray().ToList();
        Assert.That(runs.Select(r => (r.GetProperty("sampler").GetString(), r.GetProperty("steps").GetInt32())),
            Is.EqualTo(new[] { ("euler", 2), ("euler", 3), ("heun", 2), ("heun", 3) }));
        Assert.That(runs[1].GetProperty("nfe").GetInt32(), Is.EqualTo(3));
        Assert.That(runs[0].GetProperty("scores").GetProperty("sliced_w").GetDouble(), Is.GreaterThanOrEqualTo(0));
        Assert.That(runs[0].GetProperty("ode_rms_error").ValueKind, Is.EqualTo(JsonValueKind.Null), "no ODE reference was asked for");
        Assert.That(root.GetProperty("metrics").GetProperty("real_vs_real").GetProperty("sliced_w").GetDouble(), Is.GreaterThanOrEqualTo(0));
        Assert.That(Files(root), Does.Contain(P("study/study.csv")).And.Contain(P("study/quality_vs_nfe.png")));
    }

    [Test]
    public void Reconstruct()
    {
        var (images, _) = HeadPhantom.GenerateBatch(1, 64, 0, lesions: false, firstIndex: 2_000_000_000);
        Npy.Write(P("ph.npy"), images, [1, 1, 64, 64]);
        var root = Json("reconstruct", 0, "reconstruct", "--task", "denoise", "--input", P("ph.npy"), "--steps", "3", "--output", P("out"), "--device", "cpu");
        var settings = root.GetProperty("settings");
        Assert.That(settings.GetProperty("task").GetString(), Is.EqualTo("denoise"));
        Assert.That(settings.GetProperty("images").GetInt32(), Is.EqualTo(1));
        var metrics = root.GetProperty("metrics");
        Assert.That(metrics.GetProperty("diffusion").GetProperty("psnr").GetDouble(), Is.GreaterThan(0));
        Assert.That(metrics.GetProperty("nfe_per_image").GetInt32(), Is.GreaterThan(0));
        Assert.That(Files(root), Does.Contain(P("out/recon.npy")));
    }

    [Test]
    public void WithoutJsonStdoutKeepsTheHumanText()
    {
        var (code, stdout, _) = CliRunner.Run("info");
        Assert.That(code, Is.Zero);
        Assert.That(stdout, Does.StartWith("devices:"));
    }
}
