namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// Refuses paths that are not regular files (FIFOs, devices, sockets) before anything opens them: opening a FIFO for
/// reading blocks until a writer appears, so a pipe in place of a model file would hang a run forever.
/// </summary>
internal static class RegularFile
{
    /// <summary>Throws unless <paramref name="path"/> is an existing regular file (symbolic links are followed).</summary>
    /// <param name="path">The file.</param>
    /// <param name="what">What the file is, for the message (e.g. "model config").</param>
    public static void Require(string path, string what)
    {
        if (Directory.Exists(path)) throw new IOException($"{what} {path} is a folder, not a file");
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} not found: {path}", path);
        if (FileType(path) is { } type && type != FileStatus.RegularType)
            throw new IOException($"{what} {path} is not a regular file ({Describe(type)}); refusing to read it");
    }

    /// <summary>
    /// What <paramref name="path"/> is when it exists but is neither a regular file nor a folder ("a FIFO", "a character
    /// device", …); null otherwise (also where the type cannot be read).
    /// </summary>
    public static string? SpecialKind(string path) =>
        FileType(path) is { } type && type != FileStatus.RegularType && type != FolderType ? Describe(type) : null;

    private const int FolderType = 0x4000;

    /// <summary>Opens <paramref name="path"/> for reading after <see cref="Require"/>.</summary>
    public static FileStream OpenRead(string path, string what)
    {
        Require(path, what);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
    }

    /// <summary>Reads a UTF-8 text file of at most <paramref name="maxBytes"/> bytes (configs are small; a huge one is an error, not an allocation).</summary>
    public static string ReadAllText(string path, string what, long maxBytes = 64L << 20)
    {
        using var stream = OpenRead(path, what);
        if (stream.Length > maxBytes) throw new ModelFormatException($"{path}: {what} is {stream.Length:N0} bytes, more than the {maxBytes:N0} accepted");
        using var reader = new StreamReader(stream, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    private static string Describe(int type) => type switch
    {
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0xC000 => "a socket",
        _ => $"file type 0x{type:X}",
    };

    /// <summary>The S_IFMT bits of the file, or null where they cannot be read (not Linux, or no statx).</summary>
    private static int? FileType(string path) => FileStatus.Of(path)?.Type;
}
