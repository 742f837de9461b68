namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// Writes a file through a temporary sibling and a rename, so a crash or Ctrl+C never leaves half a file: the old file
/// stays until the new one is complete. The temporary is named <c>.NAME.PID.GUID.tmp</c>; one left behind by a killed
/// process is recognisable by that name.
/// </summary>
internal static class AtomicFile
{
    /// <summary>
    /// Runs <paramref name="write"/> on a new temporary file beside <paramref name="path"/>, flushes it to disk and
    /// renames it over <paramref name="path"/>; on any failure the temporary file is deleted and the old file kept.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var file = Create(path);
        write(file.Stream);
        file.Commit();
    }

    /// <summary>
    /// Starts writing <paramref name="path"/>: write to <see cref="PendingFile.Stream"/>, then <see cref="PendingFile.Commit"/>;
    /// disposing without committing deletes the temporary file and keeps the old one.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    public static PendingFile Create(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"output folder does not exist: {dir}");
        return new PendingFile(full, Path.Combine(dir, TemporaryName(Path.GetFileName(full))));
    }

    /// <summary>The temporary name this process gives a file being written as <paramref name="fileName"/>.</summary>
    public static string TemporaryName(string fileName) => $".{fileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";

    /// <summary>
    /// The process id in a temporary name made by <see cref="TemporaryName"/> for <paramref name="fileName"/>, or null when
    /// <paramref name="candidate"/> is not one.
    /// </summary>
    public static int? TemporaryOwner(string candidate, string fileName)
    {
        var prefix = $".{fileName}.";
        if (!candidate.StartsWith(prefix, StringComparison.Ordinal) || !candidate.EndsWith(".tmp", StringComparison.Ordinal)) return null;
        var middle = candidate[prefix.Length..^4].Split('.');
        return middle.Length == 2 && middle[1].Length == 32 && middle[1].All(char.IsAsciiHexDigitLower) && int.TryParse(middle[0], out int pid) ? pid : null;
    }
}

/// <summary>A file being written by <see cref="AtomicFile.Create"/>.</summary>
internal sealed class PendingFile : IDisposable
{
    private readonly string _path, _temp;
    private FileStream? _stream;
    private bool _committed;

    internal PendingFile(string path, string temp)
    {
        _path = path;
        _temp = temp;
        _stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
    }

    /// <summary>Where to write the content.</summary>
    public Stream Stream => _stream ?? throw new ObjectDisposedException(nameof(PendingFile), $"{_path}: the file has been committed or abandoned");

    /// <summary>Flushes the content to disk and renames it over the target.</summary>
    public void Commit()
    {
        var stream = _stream ?? throw new ObjectDisposedException(nameof(PendingFile), $"{_path}: the file has been committed or abandoned");
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        _stream = null;
        File.Move(_temp, _path, overwrite: true);
        _committed = true;
    }

    /// <summary>Abandons the file unless committed: the temporary is deleted, the old file kept.</summary>
    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
        if (_committed) return;
        try { File.Delete(_temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
