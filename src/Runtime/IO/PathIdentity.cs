namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// Whether two paths name the same file, or one lies inside the other, after symbolic links, '.' and '..' are resolved
/// and, on Linux, by (device, inode) identity (so bind mounts and hard-linked names are caught too). Used to refuse an
/// output that would overwrite or delete an input.
/// </summary>
internal static class PathIdentity
{
    /// <summary>True when both paths exist and name the same file or folder.</summary>
    public static bool Same(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!Exists(a) || !Exists(b)) return false;
        if (FileStatus.Of(a) is { } sa && FileStatus.Of(b) is { } sb) return sa.Device == sb.Device && sa.Inode == sb.Inode;
        return string.Equals(Canonical(a), Canonical(b), PathComparison);
    }

    /// <summary>
    /// True when <paramref name="inner"/> exists and is <paramref name="folder"/> or lies anywhere inside it, so that
    /// deleting or replacing <paramref name="folder"/> would take <paramref name="inner"/> with it.
    /// </summary>
    public static bool Contains(string folder, string inner)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(inner);
        if (!Directory.Exists(folder) || !Exists(inner)) return false;
        var folderStatus = FileStatus.Of(folder);
        var canonicalFolder = Canonical(folder);
        for (var p = Canonical(inner); p is not null; p = Path.GetDirectoryName(p))
        {
            if (folderStatus is { } fs && FileStatus.Of(p) is { } ps) { if (fs.Device == ps.Device && fs.Inode == ps.Inode) return true; }
            else if (string.Equals(p, canonicalFolder, PathComparison)) return true;
        }
        return false;
    }

    /// <summary>The canonical absolute form of an existing path (links resolved where the platform allows).</summary>
    public static string Canonical(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (FileStatus.RealPath(full) is { } real) return real;
        // Without realpath: resolve a link at the end of the path (the common case of a linked model folder or file).
        FileSystemInfo info = Directory.Exists(full) ? new DirectoryInfo(full) : new FileInfo(full);
        return info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target
            ? Path.TrimEndingDirectorySeparator(target.FullName) : full;
    }

    private static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

    private static StringComparison PathComparison =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
}
