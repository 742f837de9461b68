using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// NumPy .npy files. Reads format versions 1.0, 2.0 and 3.0, C order (or Fortran order where the layout is the same),
/// little-endian '&lt;f4', '&lt;f8', '&lt;f2', '|b1', '|u1' (as float32) and '&lt;i8', '&lt;i4' (as int64). Writes version 1.0
/// ('&lt;f4' or '&lt;i8'), or 2.0 when the header outgrows 1.0's 64 KiB, atomically. Errors are
/// <see cref="ModelFormatException"/>s naming the file.
/// </summary>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    // numpy pads the header so the data starts on a multiple of 64 bytes.
    private const int Alignment = 64;

    /// <summary>Reads an array.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ModelFormatException">The file is malformed or holds a layout or dtype this reader does not take.</exception>
    public static NpyArray Read(string path)
    {
        RegularFile.Require(path, ".npy file");
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        ModelFormatException Bad(string message, Exception? inner = null) => new($"{path}: not a valid .npy file: {message}", inner);
        long length = RandomAccess.GetLength(file);
        if (length < 10) throw Bad($"the file is {length} bytes, too short for the .npy preamble");

        Span<byte> preamble = stackalloc byte[12];
        FileChunks.ReadExactly(file, preamble[..10], 0, Bad);
        if (!preamble[..6].SequenceEqual(Magic)) throw Bad("it does not start with the \\x93NUMPY magic");
        int major = preamble[6], minor = preamble[7];
        if (major is < 1 or > 3 || minor != 0) throw Bad($"format version {major}.{minor} is not 1.0, 2.0 or 3.0");
        int prefix = major == 1 ? 10 : 12;
        if (length < prefix) throw Bad($"the file is {length} bytes, too short for the version {major}.0 preamble");
        FileChunks.ReadExactly(file, preamble[10..prefix], 10, Bad);
        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(preamble[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(preamble[8..]);
        if (headerLength > length - prefix) throw Bad($"header length {headerLength} runs past the end of the {length}-byte file");

        var headerBytes = new byte[headerLength];
        FileChunks.ReadExactly(file, headerBytes, prefix, Bad);
        string text;
        try
        {
            // Versions 1.0 and 2.0 headers are latin-1, 3.0 headers UTF-8.
            text = major == 3 ? new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes);
        }
        catch (DecoderFallbackException e)
        {
            throw Bad("the version 3.0 header is not valid UTF-8", e);
        }
        var header = NpyHeader.Parse(text, path);
        var shape = header.Shape;
        var type = ElementType.Parse(header.Descr) ?? throw Bad($"dtype '{header.Descr}' is not supported (float32, float64, float16, int64, int32, bool, uint8)");
        if (type.BigEndian) throw Bad($"dtype '{header.Descr}' is big-endian; save it little-endian (arr.astype(arr.dtype.newbyteorder('<')))");
        // With at most one dimension above 1, Fortran and C order lay the elements out identically.
        if (header.FortranOrder && shape.Count(d => d > 1) > 1)
            throw Bad($"the array of shape {Shape.Format(shape)} is in Fortran order; save np.ascontiguousarray(arr) instead");

        long count, bytes;
        try
        {
            count = 1;
            foreach (var d in shape) count = checked(count * d);
            bytes = checked(count * type.Size);
        }
        catch (OverflowException)
        {
            throw Bad($"shape {Shape.Format(shape)} has more elements than can be counted");
        }
        long dataStart = prefix + headerLength, held = length - dataStart;
        if (held != bytes)
            throw Bad($"shape {Shape.Format(shape)} of '{header.Descr}' needs {bytes} data bytes, the file holds {held} ({(held < bytes ? "truncated" : "trailing bytes")})");
        if (count > Array.MaxLength) throw Bad($"{count} elements are more than one array can hold");
        return type.Load(file, dataStart, (int)count, shape, Bad);
    }

    /// <summary>Writes float32 data as '&lt;f4'; <paramref name="shape"/> may be empty (a scalar).</summary>
    /// <exception cref="ArgumentException">The data does not fill the shape, or a dimension is negative.</exception>
    public static void Write(string path, ReadOnlySpan<float> data, int[] shape)
    {
        using var file = Begin(path, "<f4", shape, data.Length);
        // Written in chunks straight from the data: no byte copy of the whole array (which could outgrow one array).
        for (int start = 0; start < data.Length; start += ChunkElements)
            file.Stream.Write(LittleEndianBytes(data.Slice(start, Math.Min(ChunkElements, data.Length - start))));
        file.Commit();
    }

    /// <summary>Writes int64 data as '&lt;i8'; <paramref name="shape"/> may be empty (a scalar).</summary>
    /// <exception cref="ArgumentException">The data does not fill the shape, or a dimension is negative.</exception>
    public static void Write(string path, ReadOnlySpan<long> data, int[] shape)
    {
        using var file = Begin(path, "<i8", shape, data.Length);
        for (int start = 0; start < data.Length; start += ChunkElements)
            file.Stream.Write(LittleEndianBytes(data.Slice(start, Math.Min(ChunkElements, data.Length - start))));
        file.Commit();
    }

    private const int ChunkElements = 1 << 20;

    private static ReadOnlySpan<byte> LittleEndianBytes(ReadOnlySpan<float> chunk) =>
        BitConverter.IsLittleEndian ? MemoryMarshal.AsBytes(chunk) : LittleEndian.GetBytes(chunk);

    private static ReadOnlySpan<byte> LittleEndianBytes(ReadOnlySpan<long> chunk) =>
        BitConverter.IsLittleEndian ? MemoryMarshal.AsBytes(chunk) : LittleEndian.GetBytes(chunk);

    /// <summary>Checks the shape, starts the file and writes its preamble and header.</summary>
    private static PendingFile Begin(string path, string descr, int[] shape, int length)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (WriterShapes.ElementCount(shape) != length)
            throw new ArgumentException($"{path}: {length} values do not fill shape {Shape.Format(shape)}", nameof(shape));
        var dict = NpyHeader.Format(descr, shape);
        int major = 1, prefix = 10;
        int headerLength = PaddedHeaderLength(prefix, dict.Length);
        if (headerLength > ushort.MaxValue)
        {
            major = 2;
            prefix = 12;
            headerLength = PaddedHeaderLength(prefix, dict.Length);
        }
        var header = Encoding.Latin1.GetBytes(dict.PadRight(headerLength - 1) + "\n");
        var file = AtomicFile.Create(path);
        try
        {
            Span<byte> preamble = stackalloc byte[12];
            Magic.CopyTo(preamble);
            preamble[6] = (byte)major;
            preamble[7] = 0;
            if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(preamble[8..], (ushort)header.Length);
            else BinaryPrimitives.WriteUInt32LittleEndian(preamble[8..], (uint)header.Length);
            file.Stream.Write(preamble[..prefix]);
            file.Stream.Write(header);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Length of the dict plus the space padding and newline that make the data start aligned.</summary>
    private static int PaddedHeaderLength(int prefix, int dictLength) =>
        (prefix + dictLength + 1 + Alignment - 1) / Alignment * Alignment - prefix;

    /// <summary>A supported element type: its size, byte order and how to load it.</summary>
    private sealed record ElementType(string Name, int Size, bool BigEndian, bool IsInteger)
    {
        /// <summary>Parses a descr such as '&lt;f4' (byte order '&lt;', '&gt;', '|', '=' or none, then kind and size); null if unsupported.</summary>
        public static ElementType? Parse(string descr)
        {
            char order = descr.Length > 0 && descr[0] is '<' or '>' or '|' or '=' ? descr[0] : '=';
            var code = order == '=' && !descr.StartsWith('=') ? descr : descr[1..];
            var (name, size, integer) = code switch
            {
                "f4" => ("float32", 4, false),
                "f8" => ("float64", 8, false),
                "f2" => ("float16", 2, false),
                "b1" => ("bool", 1, false),
                "u1" => ("uint8", 1, false),
                "i8" => ("int64", 8, true),
                "i4" => ("int32", 4, true),
                _ => ("", 0, false),
            };
            // Byte order only matters for multi-byte elements; '=' (native) and '|' are taken as little-endian, as every host we run on is.
            return size == 0 ? null : new ElementType(name, size, order == '>' && size > 1, integer);
        }

        public NpyArray Load(SafeFileHandle file, long offset, int count, int[] shape, Func<string, Exception?, Exception> fail)
        {
            if (IsInteger)
            {
                var longs = new long[count];
                if (Size == 8 && BitConverter.IsLittleEndian) FileChunks.ReadExactly(file, MemoryMarshal.AsBytes(longs.AsSpan()), offset, fail);
                else if (Size == 8) FileChunks.Decode(file, offset, 8, longs.AsSpan(), LittleEndian.Int64ToInt64, fail);
                else FileChunks.Decode(file, offset, 4, longs.AsSpan(), LittleEndian.Int32ToInt64, fail);
                return new NpyArray(shape, Name, null, longs);
            }
            var floats = new float[count];
            var span = floats.AsSpan();
            switch (Name)
            {
                case "float32" when BitConverter.IsLittleEndian:
                    FileChunks.ReadExactly(file, MemoryMarshal.AsBytes(span), offset, fail);
                    break;
                case "float32":
                    FileChunks.Decode(file, offset, 4, span, LittleEndian.SingleToSingle, fail);
                    break;
                case "float64":
                    FileChunks.Decode(file, offset, 8, span, LittleEndian.DoubleToSingle, fail);
                    break;
                case "float16":
                    FileChunks.Decode(file, offset, 2, span, LittleEndian.HalfToSingle, fail);
                    break;
                case "bool":
                    // numpy reads any non-zero byte as True.
                    FileChunks.Decode(file, offset, 1, span, static (b, d) => { for (int i = 0; i < d.Length; i++) d[i] = b[i] != 0 ? 1f : 0f; }, fail);
                    break;
                default: // uint8
                    FileChunks.Decode(file, offset, 1, span, static (b, d) => { for (int i = 0; i < d.Length; i++) d[i] = b[i]; }, fail);
                    break;
            }
            return new NpyArray(shape, Name, floats, null);
        }
    }
}
