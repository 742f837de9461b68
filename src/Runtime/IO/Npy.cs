using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace DiffusionKernels.Runtime.IO;

/// <summary>An array read from a .npy file: float data (float32/float64/bool/uint8 inputs) or int64 data (int64/int32 inputs).</summary>
public sealed record NpyArray(int[] Shape, string DType, float[]? Floats, long[]? Longs)
{
    /// <summary>The values as float32 (int arrays are converted).</summary>
    public float[] AsFloat32() => Floats ?? Longs!.Select(v => (float)v).ToArray();
}

/// <summary>
/// NumPy .npy files: versions 1.0, 2.0 and 3.0 headers, C order, little-endian '&lt;f4', '&lt;f8', '&lt;i8', '&lt;i4', '|b1', '|u1'.
/// Errors name the file. Writes are atomic.
/// </summary>
public static partial class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static NpyArray Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        var bytes = File.ReadAllBytes(path);
        ModelFormatException Bad(string m) => new($"{path}: not a valid .npy file: {m}");
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic)) throw Bad("missing the \\x93NUMPY magic");
        int major = bytes[6];
        int headerLen, start;
        if (major == 1) { headerLen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)); start = 10; }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12) throw Bad("truncated header");
            long len = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
            if (len > int.MaxValue) throw Bad("header too long");
            headerLen = (int)len;
            start = 12;
        }
        else throw Bad($"unsupported format version {major}.{bytes[7]}");
        if (start + headerLen > bytes.Length) throw Bad("header runs past the end of the file");
        var header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes, start, headerLen);
        var descr = HeaderField(header, "descr") ?? throw Bad("header has no 'descr'");
        var fortran = HeaderField(header, "fortran_order") ?? throw Bad("header has no 'fortran_order'");
        var shapeText = HeaderField(header, "shape") ?? throw Bad("header has no 'shape'");
        if (fortran != "False") throw Bad("Fortran-ordered arrays are not supported (save with np.ascontiguousarray)");
        var shape = ParseShape(shapeText) ?? throw Bad($"cannot parse shape {shapeText}");
        long count = 1;
        foreach (var d in shape) count = checked(count * d);
        if (descr.StartsWith('>') && descr.Length > 2 && descr[2] != '1') throw Bad($"big-endian dtype {descr} is not supported");
        int dataStart = start + headerLen;
        int size = descr[^1] - '0';
        if (descr.Length < 3 || size is < 1 or > 8) throw Bad($"unsupported dtype {descr}");
        if ((long)bytes.Length - dataStart != count * size)
            throw Bad($"shape ({string.Join(", ", shape)}) of {descr} needs {count * size} data bytes, the file holds {bytes.Length - dataStart}");
        var data = new ArraySegment<byte>(bytes, dataStart, bytes.Length - dataStart);
        switch (descr[1..])
        {
            case "f4": return new(shape, "float32", ToFloats(count, i => BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(4 * i))), null);
            case "f8": return new(shape, "float64", ToFloats(count, i => (float)BinaryPrimitives.ReadDoubleLittleEndian(data.AsSpan(8 * i))), null);
            case "f2": return new(shape, "float16", ToFloats(count, i => (float)BinaryPrimitives.ReadHalfLittleEndian(data.AsSpan(2 * i))), null);
            case "i8": return new(shape, "int64", null, Enumerable.Range(0, (int)count).Select(i => BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(8 * i))).ToArray());
            case "i4": return new(shape, "int32", null, Enumerable.Range(0, (int)count).Select(i => (long)BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(4 * i))).ToArray());
            case "b1":
            case "u1": return new(shape, descr[1..] == "b1" ? "bool" : "uint8", ToFloats(count, i => data[i]), null);
            default: throw Bad($"unsupported dtype {descr} (float32, float64, float16, int64, int32, bool, uint8)");
        }
    }

    private delegate float Element(int i);

    private static float[] ToFloats(long count, Element read)
    {
        var a = new float[count];
        for (int i = 0; i < a.Length; i++) a[i] = read(i);
        return a;
    }

    /// <summary>Writes float32 data as '&lt;f4'.</summary>
    public static void Write(string path, ReadOnlySpan<float> data, int[] shape)
    {
        var bytes = new byte[data.Length * 4];
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), data[i]);
        WriteRaw(path, "<f4", shape, data.Length, bytes);
    }

    /// <summary>Writes int64 data as '&lt;i8'.</summary>
    public static void Write(string path, ReadOnlySpan<long> data, int[] shape)
    {
        var bytes = new byte[data.Length * 8];
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), data[i]);
        WriteRaw(path, "<i8", shape, data.Length, bytes);
    }

    private static void WriteRaw(string path, string descr, int[] shape, int length, byte[] data)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        if (n != length) throw new ArgumentException($"{path}: {length} values do not fill shape {Shape.Format(shape)}");
        var shapeText = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        var dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shapeText}, }}";
        // Version 1.0: magic(6) + version(2) + length(2) + header padded with spaces to a multiple of 64, ending in '\n'.
        int total = (10 + dict.Length + 1 + 63) / 64 * 64;
        var header = dict.PadRight(total - 10 - 1) + "\n";
        AtomicFile.Write(path, s =>
        {
            s.Write(Magic);
            s.WriteByte(1);
            s.WriteByte(0);
            Span<byte> len = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
            s.Write(len);
            s.Write(Encoding.Latin1.GetBytes(header));
            s.Write(data);
        });
    }

    private static string? HeaderField(string header, string key)
    {
        var m = Regex.Match(header, $"['\"]{key}['\"]\\s*:\\s*(\\([^)]*\\)|'[^']*'|\"[^\"]*\"|True|False)");
        return m.Success ? m.Groups[1].Value.Trim('\'', '"') : null;
    }

    private static int[]? ParseShape(string text)
    {
        var inner = text.Trim().TrimStart('(').TrimEnd(')');
        var parts = inner.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var dims = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i].TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out dims[i])) return null;
        return dims;
    }
}
