using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace DiffusionKernels.Runtime.IO;

/// <summary>Little-endian byte images of value arrays, as safetensors and .npy files store them.</summary>
internal static class LittleEndian
{
    public static byte[] GetBytes(ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian) return MemoryMarshal.AsBytes(values).ToArray();
        var bytes = new byte[4 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        return bytes;
    }

    public static byte[] GetBytes(ReadOnlySpan<long> values)
    {
        if (BitConverter.IsLittleEndian) return MemoryMarshal.AsBytes(values).ToArray();
        var bytes = new byte[8 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), values[i]);
        return bytes;
    }

    // Decoders of little-endian element bytes (whole elements) into float32 or int64, for FileChunks.Decode.

    public static void SingleToSingle(ReadOnlySpan<byte> b, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadSingleLittleEndian(b[(4 * i)..]); }

    public static void HalfToSingle(ReadOnlySpan<byte> b, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(b[(2 * i)..]); }

    public static void BFloat16ToSingle(ReadOnlySpan<byte> b, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = BFloat16.ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b[(2 * i)..])); }

    public static void DoubleToSingle(ReadOnlySpan<byte> b, Span<float> d) { for (int i = 0; i < d.Length; i++) d[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(b[(8 * i)..]); }

    public static void Int64ToInt64(ReadOnlySpan<byte> b, Span<long> d) { for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadInt64LittleEndian(b[(8 * i)..]); }

    public static void Int32ToInt64(ReadOnlySpan<byte> b, Span<long> d) { for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadInt32LittleEndian(b[(4 * i)..]); }
}
