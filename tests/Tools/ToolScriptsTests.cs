using System.Diagnostics;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Tools;

/// <summary>
/// The scripts under tools/ run on machines CI never reaches (a GPU host, a PyTorch box), so a syntax error there would
/// surface only when such a run is due. These tests parse every shell script with <c>bash -n</c> and every Python script
/// with Python's own parser, without running them.
/// </summary>
public class ToolScriptsTests
{
    private static string ToolsDir
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "DiffusionKernels.sln")) && Directory.Exists(Path.Combine(dir.FullName, "tools")))
                    return Path.Combine(dir.FullName, "tools");
            throw new DirectoryNotFoundException($"no repository root with tools/ above {AppContext.BaseDirectory}");
        }
    }

    private static IEnumerable<string> Scripts(string pattern) =>
        Directory.EnumerateFiles(ToolsDir, pattern, SearchOption.AllDirectories)
            .Where(p => !p.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or "__pycache__"))
            .Select(p => Path.GetRelativePath(ToolsDir, p)).OrderBy(p => p, StringComparer.Ordinal);

    public static IEnumerable<string> ShellScripts => Scripts("*.sh");
    public static IEnumerable<string> PythonScripts => Scripts("*.py");

    [Test]
    public void TheGpuTrainingScriptIsAmongTheCheckedOnes() =>
        Assert.That(ShellScripts, Does.Contain(Path.Combine("gpu", "train.sh")));

    [TestCaseSource(nameof(ShellScripts))]
    public void ShellScriptParses(string script)
    {
        var (code, output) = Run("bash", "-n", Path.Combine(ToolsDir, script));
        Assert.That(code, Is.EqualTo(0), $"bash -n tools/{script}:\n{output}");
    }

    [TestCaseSource(nameof(PythonScripts))]
    public void PythonScriptParses(string script)
    {
        // ast.parse checks the syntax without importing anything (CI has no PyTorch) and writes no __pycache__.
        var (code, output) = Run("python3", "-c", "import ast, sys; ast.parse(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1])",
            Path.Combine(ToolsDir, script));
        Assert.That(code, Is.EqualTo(0), $"python3 could not parse tools/{script}:\n{output}");
    }

    private static (int Code, string Output) Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Ignore($"{program} is not installed here ({e.Message}); the script check needs it");
            throw;
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout + stderr.Result);
        }
    }
}
