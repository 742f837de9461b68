using System.Diagnostics;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli;

/// <summary>
/// What a killed dk run can leave beside an output, and how the next run puts it right. Only dk's own leftovers are
/// touched (names dk makes, holding dk's marker or nothing), and only once the process that made them is gone:
/// <list type="bullet">
/// <item><c>.NAME.partial-PID</c>: a folder being built, or an old folder swapped out and being deleted: removed.</item>
/// <item><c>.NAME.old-PID</c>: an old folder moved aside (where folders cannot be swapped atomically): put back when
/// the output is missing (the kill came between the two renames), else removed.</item>
/// <item><c>.NAME.PID.GUID.tmp</c>: a file being written: removed.</item>
/// </list>
/// </summary>
internal static class StaleOutputs
{
    /// <summary>The folder a run of process <paramref name="pid"/> builds <paramref name="output"/> in.</summary>
    public static string Partial(string output, int pid) => Sibling(output, $"partial-{pid}");

    /// <summary>Where a run of process <paramref name="pid"/> moves the old <paramref name="output"/> aside.</summary>
    public static string Old(string output, int pid) => Sibling(output, $"old-{pid}");

    private static string Sibling(string output, string suffix) =>
        Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.{suffix}");

    /// <summary>Cleans up the leftovers of dead dk processes beside <paramref name="output"/> (a folder or a file).</summary>
    public static void Clean(string output)
    {
        var parent = Path.GetDirectoryName(output)!;
        var name = Path.GetFileName(output);
        if (!Directory.Exists(parent)) return;
        foreach (var entry in Directory.EnumerateFileSystemEntries(parent, $".{name}.*").ToList())
        {
            var entryName = Path.GetFileName(entry);
            try
            {
                if (AtomicFile.TemporaryOwner(entryName, name) is { } tempOwner)
                {
                    if (File.Exists(entry) && IsGone(tempOwner)) File.Delete(entry);
                    continue;
                }
                var suffix = entryName[(name.Length + 2)..];
                if (!Directory.Exists(entry) || new DirectoryInfo(entry).LinkTarget is not null) continue;
                if (Owner(suffix, "partial-") is { } partialOwner)
                {
                    if (IsGone(partialOwner) && OutputMarker.OwnedOrEmpty(entry)) DeleteTree(entry);
                }
                else if (Owner(suffix, "old-") is { } oldOwner && IsGone(oldOwner) && OutputMarker.OwnedOrEmpty(entry))
                {
                    if (!Directory.Exists(output) && !File.Exists(output)) Directory.Move(entry, output);
                    else DeleteTree(entry);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Leftovers that cannot be removed now are tried again by the next run; they never block this one.
            }
        }
    }

    /// <summary>
    /// Deletes a folder dk owns with its marker last, so that a kill halfway leaves a folder still recognisable as
    /// dk's. <paramref name="halfway"/> runs once half the entries are gone (the kill tests stop there).
    /// </summary>
    public static void DeleteTree(string folder, Action? halfway = null)
    {
        var entries = Directory.EnumerateFileSystemEntries(folder).Where(e => Path.GetFileName(e) != OutputMarker.FileName).ToList();
        for (int i = 0; i < entries.Count; i++)
        {
            if (i == entries.Count / 2) halfway?.Invoke();
            var e = entries[i];
            if (Directory.Exists(e) && new DirectoryInfo(e).LinkTarget is null) Directory.Delete(e, recursive: true);
            else File.Delete(e);
        }
        if (entries.Count == 0) halfway?.Invoke();
        File.Delete(Path.Combine(folder, OutputMarker.FileName));
        Directory.Delete(folder);
    }

    private static int? Owner(string suffix, string kind) =>
        suffix.StartsWith(kind, StringComparison.Ordinal) && int.TryParse(suffix.AsSpan(kind.Length), out int pid) && pid > 0 ? pid : null;

    /// <summary>
    /// True when no process <paramref name="pid"/> runs. A live process with that number is taken as the owner even if
    /// the number was reused: a leftover then waits for a later run, which is safe, rather than being taken from a live run.
    /// </summary>
    private static bool IsGone(int pid)
    {
        if (pid == Environment.ProcessId) return false;
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }
}
