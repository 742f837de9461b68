using System.Runtime.InteropServices;

namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// What the kernel knows about a path that .NET does not expose: its file type bits and its (device, inode) identity,
/// through statx, and its canonical form through realpath. Linux only; elsewhere every query answers null.
/// </summary>
internal static class FileStatus
{
    /// <summary>The S_IFMT bits of a regular file.</summary>
    public const int RegularType = 0x8000;
    private const int TypeMask = 0xF000;

    /// <summary>A file's type bits and identity (symbolic links followed).</summary>
    public readonly record struct Status(int Type, ulong Device, ulong Inode);

    /// <summary>The status of <paramref name="path"/>, or null where it cannot be read (missing, not Linux, no statx).</summary>
    public static Status? Of(string path)
    {
        // statx's buffer layout is the same on every Linux architecture, unlike struct stat's: stx_mode is the u16 at
        // offset 28, stx_ino the u64 at 32, stx_dev_major and stx_dev_minor the u32s at 136 and 140.
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            Span<byte> buffer = stackalloc byte[256];
            const int AtFdCwd = -100;
            const uint TypeAndInode = 0x1 | 0x100;
            if (Statx(AtFdCwd, path, 0, TypeAndInode, ref MemoryMarshal.GetReference(buffer)) != 0) return null;
            int type = BitConverter.ToUInt16(buffer[28..30]) & TypeMask;
            ulong inode = BitConverter.ToUInt64(buffer[32..40]);
            ulong device = ((ulong)BitConverter.ToUInt32(buffer[136..140]) << 32) | BitConverter.ToUInt32(buffer[140..144]);
            return new Status(type, device, inode);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The canonical absolute path (links, '.' and '..' resolved) of an existing path, or null where it cannot be had.</summary>
    public static string? RealPath(string path)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return null;
        try
        {
            var resolved = Realpath(path, IntPtr.Zero);
            if (resolved == IntPtr.Zero) return null;
            try
            {
                return Marshal.PtrToStringUTF8(resolved);
            }
            finally
            {
                Free(resolved);
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, ref byte buffer);

    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    private static extern IntPtr Realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void Free(IntPtr pointer);
}
