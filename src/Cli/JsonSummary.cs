using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DiffusionKernels.Cli;

/// <summary>
/// <c>--json</c>: a command's machine-readable summary, one JSON object on stdout, while everything the command prints
/// for people goes to stderr. The fields (documented in docs/cli.md) are stable: <c>command</c>, <c>ok</c>,
/// <c>exit_code</c>, <c>error</c> (when it failed), <c>device</c>, <c>settings</c>, <c>timings</c> (seconds),
/// <c>metrics</c>, <c>files</c> (paths written) and command-specific ones. A command records into the summary of the
/// run in progress through the static methods, which do nothing when <c>--json</c> was not given.
/// </summary>
internal sealed class JsonSummary
{
    private static readonly AsyncLocal<JsonSummary?> Active = new();
    private readonly JsonObject _root;
    private readonly JsonObject _settings = [], _timings = [], _metrics = [];
    private readonly JsonArray _files = [];

    private JsonSummary(string command) => _root = new JsonObject { ["command"] = command };

    /// <summary>The <c>--json</c> option.</summary>
    public static Option<bool> Option() => new("--json")
    {
        Description = "Print a machine-readable summary as one JSON object on stdout (messages and progress go to stderr); fields in docs/cli.md",
    };

    /// <summary>
    /// Runs <paramref name="action"/>; with <paramref name="json"/>, with stdout sent to stderr meanwhile, then prints the
    /// summary (also when the command fails: <c>ok</c> false, <c>error</c> the message) and returns the exit code.
    /// </summary>
    public static int Run(string command, bool json, Func<int> action)
    {
        if (!json) return action();
        var summary = new JsonSummary(command);
        var stdout = Console.Out;
        string? error = null;
        int code;
        var clock = Stopwatch.StartNew();
        Active.Value = summary;
        Console.SetOut(Console.Error);
        try
        {
            code = CliErrors.Run(action, message => error = message);
        }
        finally
        {
            Console.SetOut(stdout);
            Active.Value = null;
        }
        summary._timings["total_seconds"] = clock.Elapsed.TotalSeconds;
        stdout.WriteLine(summary.ToJson(code, error));
        stdout.Flush();
        return code;
    }

    private string ToJson(int code, string? error)
    {
        _root["ok"] = code == CliErrors.Success;
        _root["exit_code"] = code;
        if (error is not null) _root["error"] = error;
        _root["settings"] = _settings;
        _root["timings"] = _timings;
        _root["metrics"] = _metrics;
        _root["files"] = _files;
        return _root.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }

    /// <summary>Whether a summary is being recorded.</summary>
    public static bool Recording => Active.Value is not null;

    /// <summary>A top-level field (device, output, a command's own table).</summary>
    public static void Set(string key, object? value) => Put(s => s._root, key, value);

    /// <summary>A setting the run used.</summary>
    public static void Setting(string key, object? value) => Put(s => s._settings, key, value);

    /// <summary>A duration in seconds.</summary>
    public static void Timing(string key, double seconds) => Put(s => s._timings, key, seconds);

    /// <summary>A measured value.</summary>
    public static void Metric(string key, object? value) => Put(s => s._metrics, key, value);

    /// <summary>Files the command wrote (full paths).</summary>
    public static void Files(IEnumerable<string> paths)
    {
        if (Active.Value is { } s)
            foreach (var p in paths) s._files.Add(Path.GetFullPath(p));
    }

    /// <summary>Every file under <paramref name="folder"/> (what a command's output folder holds once written).</summary>
    public static void FilesUnder(string folder)
    {
        if (Active.Value is not null && Directory.Exists(folder))
            Files(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
    }

    private static void Put(Func<JsonSummary, JsonObject> target, string key, object? value)
    {
        if (Active.Value is { } s) target(s)[key] = Node(value);
    }

    /// <summary>A value as JSON: non-finite numbers as null (JSON has no NaN), sequences as arrays, a node as itself.</summary>
    public static JsonNode? Node(object? value) => value switch
    {
        null => null,
        JsonNode n => n,
        double d => double.IsFinite(d) ? JsonValue.Create(d) : null,
        float f => float.IsFinite(f) ? JsonValue.Create(f) : null,
        string str => JsonValue.Create(str),
        bool b => JsonValue.Create(b),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        ulong u => JsonValue.Create(u),
        System.Collections.IEnumerable e => new JsonArray([.. e.Cast<object?>().Select(Node)]),
        _ => JsonValue.Create(value.ToString()),
    };
}
