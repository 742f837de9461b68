using System.Runtime.InteropServices;

namespace DiffusionKernels.Cli;

/// <summary>
/// Swaps two folders in one atomic step (Linux renameat2 with RENAME_EXCHANGE), so that replacing an output folder
/// never passes through a moment where neither the old nor the new one is in place.
/// </summary>
internal static class FolderExchange
{
    private const int AtFdCwd = -100;
    private const uint RenameExchange = 2;
    // errno values meaning "this system or file system cannot exchange": EXDEV, ENOSYS, EINVAL, ENOTSUP.
    private static readonly int[] Unsupported = [18, 38, 22, 95];

    /// <summary>Swaps <paramref name="a"/> and <paramref name="b"/>; false where the platform or file system cannot.</summary>
    /// <exception cref="IOException">The exchange is supported but failed (permissions, a vanished folder).</exception>
    public static bool TryExchange(string a, string b)
    {
        if (!OperatingSystem.IsLinux()) return false;
        int rc;
        try
        {
            rc = Renameat2(AtFdCwd, a, AtFdCwd, b, RenameExchange);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
        if (rc == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        if (Unsupported.Contains(errno)) return false;
        throw new IOException($"cannot swap {a} and {b}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    [DllImport("libc", EntryPoint = "renameat2", SetLastError = true)]
    private static extern int Renameat2(int oldDir, [MarshalAs(UnmanagedType.LPUTF8Str)] string oldPath, int newDir,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string newPath, uint flags);
}
