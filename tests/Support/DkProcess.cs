using System.Diagnostics;
using System.Text;

namespace DiffusionKernels.Tests.Support;

/// <summary>The dk program run as a child process (for tests that kill or interrupt it).</summary>
public sealed class DkProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new(), _stdout = new();
    private readonly object _gate = new();

    private DkProcess(Process process)
    {
        _process = process;
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _stderr.AppendLine(e.Data); };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _stdout.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    /// <summary>Starts dk (the dk.dll beside the tests, through the dotnet host) with <paramref name="args"/>.</summary>
    public static DkProcess Start(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        // A test run started in the background of a non-interactive shell inherits SIGINT as ignored, and so would dk:
        // coreutils' env restores the default disposition, so that an interrupt test sees what a terminal user sees.
        bool resetSigint = OperatingSystem.IsLinux() && File.Exists(EnvProgram);
        var info = new ProcessStartInfo(resetSigint ? EnvProgram : host)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (resetSigint)
        {
            info.ArgumentList.Add("--default-signal=INT");
            info.ArgumentList.Add(host);
        }
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "dk.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        return new DkProcess(Process.Start(info)!);
    }

    private const string EnvProgram = "/usr/bin/env";

    public int Id => _process.Id;

    public string Stderr { get { lock (_gate) return _stderr.ToString(); } }
    public string Stdout { get { lock (_gate) return _stdout.ToString(); } }

    /// <summary>Waits until stderr or stdout holds <paramref name="text"/>; false when the process ended or the time ran out first.</summary>
    public bool WaitFor(string text, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (Stderr.Contains(text) || Stdout.Contains(text)) return true;
            if (_process.HasExited) return Stderr.Contains(text) || Stdout.Contains(text);
            Thread.Sleep(20);
        }
        return false;
    }

    /// <summary>Kills the process (SIGKILL: no handler runs) and waits for it to end.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>Sends SIGINT (what Ctrl+C sends).</summary>
    public void Interrupt()
    {
        using var kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Waits for the exit code.</summary>
    public int Wait(TimeSpan limit)
    {
        if (!_process.WaitForExit(limit)) throw new TimeoutException($"dk did not end within {limit.TotalSeconds} s; stderr:\n{Stderr}");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
    }
}
