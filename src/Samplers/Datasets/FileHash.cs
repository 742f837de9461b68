using System.Security.Cryptography;
using System.Text;

namespace DiffusionKernels.Samplers.Datasets;

/// <summary>SHA-256 fingerprints of files, as lower-case hex.</summary>
internal static class FileHash
{
    /// <summary>SHA-256 of the file at <paramref name="path"/>.</summary>
    public static string Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// SHA-256 over several files, in order: for each, its <paramref name="names"/> entry (UTF-8, then a 0 byte), its
    /// length (8 bytes, little-endian) and its bytes, so a renamed, reordered or truncated file changes the hash.
    /// </summary>
    /// <param name="folder">The folder the names are relative to.</param>
    /// <param name="names">'/'-separated paths relative to <paramref name="folder"/>.</param>
    public static string OfFiles(string folder, IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        Span<byte> length = stackalloc byte[8];
        foreach (var name in names)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name));
            hash.AppendData([0]);
            using var stream = new FileStream(Path.Combine(folder, name), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(length, stream.Length);
            hash.AppendData(length);
            int read;
            while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
