using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace DiffusionKernels.Runtime.IO;

/// <summary>Positional reads of an exact byte range, optionally decoded chunk by chunk through a pooled buffer.</summary>
internal static class FileChunks
{
    // Bounded so converting a tensor needs its destination array and no second copy of the file's bytes.
    private const int ChunkBytes = 1 << 20;

    /// <summary>Decodes <paramref name="source"/> (whole elements) into <paramref name="destination"/>.</summary>
    public delegate void Decoder<T>(ReadOnlySpan<byte> source, Span<T> destination);

    /// <summary>
    /// Fills <paramref name="buffer"/> from <paramref name="offset"/>. A file that ends first (it changed after its
    /// header was checked) or a failing read becomes the exception <paramref name="fail"/> makes of a description.
    /// </summary>
    public static void ReadExactly(SafeFileHandle file, Span<byte> buffer, long offset, Func<string, Exception?, Exception> fail)
    {
        while (!buffer.IsEmpty)
        {
            int n;
            try
            {
                n = RandomAccess.Read(file, buffer, offset);
            }
            catch (IOException e)
            {
                throw fail($"read failed at offset {offset}: {e.Message}", e);
            }
            if (n == 0) throw fail($"the file ends at offset {offset}, before the bytes its header promises", null);
            buffer = buffer[n..];
            offset += n;
        }
    }

    /// <summary>Reads <paramref name="destination"/>.Length elements of <paramref name="elementBytes"/> bytes each from <paramref name="offset"/>.</summary>
    public static void Decode<T>(SafeFileHandle file, long offset, int elementBytes, Span<T> destination, Decoder<T> decode, Func<string, Exception?, Exception> fail)
    {
        int perChunk = ChunkBytes / elementBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(perChunk * elementBytes);
        try
        {
            for (int start = 0; start < destination.Length; start += perChunk)
            {
                int count = Math.Min(perChunk, destination.Length - start);
                var bytes = buffer.AsSpan(0, count * elementBytes);
                ReadExactly(file, bytes, offset + (long)start * elementBytes, fail);
                decode(bytes, destination.Slice(start, count));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
