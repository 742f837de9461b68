using System.Diagnostics;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Samplers.Datasets;

/// <summary>
/// Removes the temporary files (<see cref="AtomicFile.TemporaryName"/>) that writers killed mid-write left in a dataset
/// folder. A file whose process still runs is left alone (it may be a live writer's).
/// </summary>
internal static class StrayTemporaries
{
    /// <summary>Cleans <paramref name="folder"/> (not its subfolders); a missing folder is nothing to clean.</summary>
    public static void Clean(string folder)
    {
        if (!Directory.Exists(folder)) return;
        foreach (var path in Directory.EnumerateFiles(folder, ".*.tmp"))
        {
            var name = Path.GetFileName(path);
            // ".NAME.PID.GUID.tmp": the target is what lies between the first dot and the last three parts.
            var parts = name.Split('.');
            if (parts.Length < 5) continue;
            var target = string.Join('.', parts[1..^3]);
            if (AtomicFile.TemporaryOwner(name, target) is not { } pid || !IsGone(pid)) continue;
            try
            {
                File.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left for a later run; a stray temporary never blocks this one.
            }
        }
    }

    private static bool IsGone(int pid)
    {
        if (pid == Environment.ProcessId) return false;
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return true;
        }
    }
}
