using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli;

/// <summary>
/// Output folders written all at once and replaced atomically. The files are built in a hidden sibling
/// (<c>.NAME.partial-PID</c>) holding dk's marker (<see cref="OutputMarker"/>); when complete it is swapped with the old
/// folder in one step (or, where folders cannot be swapped, the old one is renamed aside and the new one moved in), and
/// only then is the old folder deleted. A kill at any moment leaves the old or the new complete folder in place, and the
/// next run cleans up what was left beside it (<see cref="StaleOutputs"/>). <c>--force</c> replaces only a folder dk
/// wrote (or an empty one), never one that holds or is an input.
/// </summary>
internal static class OutputFolder
{
    /// <summary>
    /// For the kill tests only: when this environment variable names a phase of <see cref="Write"/> ("writing",
    /// "complete", "exchanged", "moved-aside", "deleting-old"), the process reports it on stderr and waits there to be killed.
    /// </summary>
    public const string HaltVariable = "DK_TEST_HALT_AT";

    /// <summary>
    /// Checks before any work that <paramref name="path"/> may be written, and cleans up dead runs' leftovers beside it;
    /// returns its full path. Refuses: a file; a symbolic link; a folder that is or holds one of <paramref name="inputs"/>;
    /// an existing folder without <paramref name="force"/>, or one dk did not write; a parent that is missing or not writable.
    /// </summary>
    public static string Check(string path, bool force, params string?[] inputs)
    {
        var output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var parent = Path.GetDirectoryName(output) ?? throw new IOException($"--output {output} is a file system root; give a folder to create");
        if (File.Exists(output)) throw new IOException($"--output {output} is a file, not a folder");
        if (Directory.Exists(output) && new DirectoryInfo(output).LinkTarget is not null)
            throw new IOException($"--output {output} is a symbolic link; give the folder itself");
        if (!Directory.Exists(parent)) throw new DirectoryNotFoundException($"the output folder's parent does not exist: {parent}");
        foreach (var input in inputs)
        {
            if (string.IsNullOrEmpty(input)) continue;
            if (PathIdentity.Same(output, input)) throw new IOException($"--output {output} is the input {input}; writing there would destroy it");
            if (PathIdentity.Contains(output, input)) throw new IOException($"--output {output} holds the input {input}; replacing it would delete the input");
        }
        StaleOutputs.Clean(output);
        if (Directory.Exists(output))
        {
            if (!force) throw new IOException($"output folder {output} exists; pass --force to replace it");
            if (!OutputMarker.OwnedOrEmpty(output))
                throw new IOException($"--force replaces only folders dk wrote (they hold a {OutputMarker.FileName} file); {output} is not one, so it was left alone: choose another --output or remove it yourself");
        }
        ProbeWritable(output);
        return output;
    }

    /// <summary>
    /// Runs <paramref name="fill"/> on a new hidden folder, marks it complete and puts it in place of
    /// <paramref name="output"/> (see the type's summary); on an error or Ctrl+C the new folder is removed and the old one kept.
    /// </summary>
    public static void Write(string output, Action<string> fill)
    {
        ArgumentNullException.ThrowIfNull(fill);
        output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        StaleOutputs.Clean(output);
        var partial = StaleOutputs.Partial(output, Environment.ProcessId);
        if (Directory.Exists(partial)) StaleOutputs.DeleteTree(partial);
        Directory.CreateDirectory(partial);
        bool placed = false;
        try
        {
            OutputMarker.Write(partial, "writing");
            Halt("writing");
            fill(partial);
            OutputMarker.Write(partial, "complete");
            Halt("complete");
            if (Directory.Exists(output)) Replace(output, partial);
            else Directory.Move(partial, output);
            placed = true;
        }
        finally
        {
            // Before the swap this is the unfinished new folder; after it, the old one (whose deletion failed).
            if (!placed && Directory.Exists(partial)) TryDelete(partial);
        }
    }

    private static void Replace(string output, string partial)
    {
        if (!OutputMarker.OwnedOrEmpty(output))
            throw new IOException($"{output} changed while dk was writing and is no longer a folder dk wrote; it was left alone, and the result discarded");
        if (FolderExchange.TryExchange(partial, output))
        {
            Halt("exchanged");
            StaleOutputs.DeleteTree(partial, () => Halt("deleting-old"));
            return;
        }
        var old = StaleOutputs.Old(output, Environment.ProcessId);
        Directory.Move(output, old);
        Halt("moved-aside");
        try
        {
            Directory.Move(partial, output);
        }
        catch
        {
            Directory.Move(old, output);
            throw;
        }
        StaleOutputs.DeleteTree(old, () => Halt("deleting-old"));
    }

    private static void ProbeWritable(string output)
    {
        var probe = StaleOutputs.Partial(output, Environment.ProcessId);
        try
        {
            if (Directory.Exists(probe)) StaleOutputs.DeleteTree(probe);
            Directory.CreateDirectory(probe);
            Directory.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write the output folder {output}: {e.Message}", e);
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            StaleOutputs.DeleteTree(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next run's clean-up; the original error is what the user needs to see.
        }
    }

    private static void Halt(string phase)
    {
        if (Environment.GetEnvironmentVariable(HaltVariable) != phase) return;
        Console.Error.WriteLine($"dk: halted at {phase}");
        Console.Error.Flush();
        Thread.Sleep(Timeout.Infinite);
    }
}
