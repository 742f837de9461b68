namespace DiffusionKernels.Cli;

/// <summary>
/// Output folders written all at once: the files are built in a hidden sibling folder that is moved into place at
/// the end, so an error or Ctrl+C leaves nothing behind and an existing folder is replaced only with --force.
/// </summary>
public static class OutputFolder
{
    /// <summary>Checks before any work that <paramref name="path"/> may be written; returns its full path.</summary>
    public static string Check(string path, bool force)
    {
        var output = Path.GetFullPath(path);
        if (File.Exists(output)) throw new IOException($"--output {output} is a file, not a folder");
        if (Directory.Exists(output) && !force) throw new IOException($"output folder {output} exists; pass --force to replace it");
        var parent = Path.GetDirectoryName(output)!;
        if (!Directory.Exists(parent)) throw new DirectoryNotFoundException($"the output folder's parent does not exist: {parent}");
        return output;
    }

    /// <summary>Runs <paramref name="fill"/> on a temporary folder, then moves it to <paramref name="output"/>.</summary>
    public static void Write(string output, Action<string> fill)
    {
        var temp = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.partial-{Environment.ProcessId}");
        try
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            Directory.CreateDirectory(temp);
            fill(temp);
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
            Directory.Move(temp, output);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }
}
