using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli;

/// <summary>
/// Checks, before any work, a single output file (written later through <see cref="AtomicFile"/>, so a kill leaves the
/// old file or the new one): it must not be a folder or a special file, must not be one of the command's inputs, and its
/// folder must exist and be writable. Dead runs' temporary files beside it are removed.
/// </summary>
internal static class OutputFile
{
    /// <summary>Returns the full path of <paramref name="path"/> (given as <paramref name="option"/>) once it may be written.</summary>
    public static string Check(string path, string option, params string?[] inputs)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new IOException($"{option} {full} is a folder; give a file name");
        if (RegularFile.SpecialKind(full) is { } kind) throw new IOException($"{option} {full} is {kind}, not a regular file; refusing to replace it");
        foreach (var input in inputs)
            if (!string.IsNullOrEmpty(input) && PathIdentity.Same(full, input))
                throw new IOException($"{option} {full} is the input {input}; writing it would overwrite the input");
        var folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{option}: the folder {folder} does not exist");
        StaleOutputs.Clean(full);
        try
        {
            // Creating (and abandoning) the temporary file the write will use proves the folder is writable.
            AtomicFile.Create(full).Dispose();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option}: cannot write {full}: {e.Message}", e);
        }
        return full;
    }

    /// <summary>Fails when two of the given outputs are the same file.</summary>
    public static void RequireDistinct(params (string Option, string? Path)[] outputs)
    {
        var given = outputs.Where(o => o.Path is not null).Select(o => (o.Option, Full: Path.GetFullPath(o.Path!))).ToList();
        for (int i = 0; i < given.Count; i++)
            for (int j = i + 1; j < given.Count; j++)
                if (string.Equals(given[i].Full, given[j].Full, StringComparison.Ordinal) || PathIdentity.Same(given[i].Full, given[j].Full))
                    throw new ArgumentException($"{given[i].Option} and {given[j].Option} name the same file {given[i].Full}");
    }
}
