using System.Text.Json;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli;

/// <summary>
/// The file dk puts in every output folder it writes (<c>.dk-output</c>, a small JSON record): the proof that a later
/// <c>--force</c> may replace the folder. A folder without it was not written by dk and is never replaced.
/// </summary>
internal static class OutputMarker
{
    /// <summary>The marker's file name.</summary>
    public const string FileName = ".dk-output";

    /// <summary>Writes (atomically) the marker of <paramref name="folder"/> with its state ("writing" or "complete").</summary>
    public static void Write(string folder, string state)
    {
        var record = new Dictionary<string, object>
        {
            ["writer"] = "dk",
            ["state"] = state,
            ["pid"] = Environment.ProcessId,
            ["written_utc"] = DateTime.UtcNow.ToString("O"),
            ["command"] = string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
        };
        AtomicFile.Write(Path.Combine(folder, FileName), s => JsonSerializer.Serialize(s, record));
    }

    /// <summary>The marker's state when <paramref name="folder"/> holds a valid dk marker; null otherwise.</summary>
    public static string? State(string folder)
    {
        var path = Path.Combine(folder, FileName);
        try
        {
            if (!File.Exists(path) || RegularFile.SpecialKind(path) is not null) return null;
            var reader = ConfigReader.Parse(RegularFile.ReadAllText(path, "output marker", maxBytes: 1 << 16), path);
            return reader.String("writer", null) == "dk" ? reader.String("state", null) ?? "" : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Runtime.ModelFormatException)
        {
            return null;
        }
    }

    /// <summary>True when dk may replace or remove <paramref name="folder"/>: it holds a dk marker, or it is empty.</summary>
    public static bool OwnedOrEmpty(string folder) => State(folder) is not null || !Directory.EnumerateFileSystemEntries(folder).Any();
}
