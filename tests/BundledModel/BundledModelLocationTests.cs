using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;

namespace DiffusionKernels.Tests.BundledModel;

/// <summary>
/// dk finds the bundled model next to the program wherever it is run from: a copy of the program folder (as the tool or
/// the package installs it) outside the repository, run from an unrelated working directory.
/// </summary>
public class BundledModelLocationTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("dk-where-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    /// <summary>The dk program's files (its assemblies and the models folder) copied out of the test output.</summary>
    private string CopyProgram(bool withModel)
    {
        var tool = Directory.CreateDirectory(Path.Combine(_dir, "tool")).FullName;
        foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory))
        {
            var name = Path.GetFileName(file);
            if (name.StartsWith("dk.", StringComparison.Ordinal) || (name.EndsWith(".dll", StringComparison.Ordinal) && !name.Contains("Test")))
                File.Copy(file, Path.Combine(tool, name));
        }
        if (withModel)
        {
            var source = Path.Combine(AppContext.BaseDirectory, DiffusionKernels.BundledModel.RelativePath);
            var target = Directory.CreateDirectory(Path.Combine(tool, DiffusionKernels.BundledModel.RelativePath)).FullName;
            foreach (var file in Directory.EnumerateFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
        return Path.Combine(tool, "dk.dll");
    }

    private static (int Code, string Out, string Err) RunDk(string dll, string workingDirectory, params string[] args)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var info = new ProcessStartInfo(host) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        Assert.That(process.WaitForExit(TimeSpan.FromMinutes(5)), "dk finished");
        return (process.ExitCode, stdout, stderr.Result);
    }

    [Test]
    public void ACopiedProgramFindsItsModelFromAnotherWorkingDirectory()
    {
        var dk = CopyProgram(withModel: true);
        var work = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere", "work")).FullName;
        var (code, stdout, err) = RunDk(dk, work, "sample", "--steps", "1", "--num-samples", "1", "--batch-size", "1", "--output", "out", "--device", "cpu", "--json");
        Assert.That(code, Is.Zero, err);
        using var doc = JsonDocument.Parse(stdout);
        var model = doc.RootElement.GetProperty("settings").GetProperty("model").GetString()!;
        Assert.That(Path.GetFullPath(model), Is.EqualTo(Path.Combine(_dir, "tool", DiffusionKernels.BundledModel.RelativePath)), "the model next to the program");
        Assert.That(File.Exists(Path.Combine(work, "out", "samples.npy")), "the output goes to the working directory");
    }

    [Test]
    public void WithoutItTheErrorSaysWhereItLooked()
    {
        var dk = CopyProgram(withModel: false);
        var work = Directory.CreateDirectory(Path.Combine(_dir, "work")).FullName;
        var (code, _, err) = RunDk(dk, work, "sample", "--steps", "1", "--num-samples", "1", "--output", "out", "--device", "cpu");
        Assert.That(code, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain(DiffusionKernels.BundledModel.RelativePath).And.Contain(Path.Combine(_dir, "tool")).And.Contain("--model"));
        Assert.That(Directory.Exists(Path.Combine(work, "out")), Is.False);
    }
}
