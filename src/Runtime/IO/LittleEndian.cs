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
}
