using System.Buffers.Binary;
using System.Text.Json;

namespace DiffusionKernels.Runtime.IO;

/// <summary>Storage types the writer can produce from float32 data.</summary>
public enum SafetensorsDType { F32, F16, BF16 }

/// <summary>Writes safetensors files atomically (temporary file in the same folder, then a rename).</summary>
public sealed class SafetensorsWriter
{
    private readonly List<(string Name, string DType, int[] Shape, byte[] Data)> _tensors = [];
    private readonly Dictionary<string, string> _metadata = [];

    public SafetensorsWriter AddMetadata(string key, string value)
    {
        _metadata[key] = value;
        return this;
    }

    /// <summary>Adds a float tensor stored as <paramref name="dtype"/> (F16/BF16 round to nearest even).</summary>
    public SafetensorsWriter Add(string name, ReadOnlySpan<float> data, int[] shape, SafetensorsDType dtype = SafetensorsDType.F32)
    {
        CheckLength(name, data.Length, shape);
        int size = dtype == SafetensorsDType.F32 ? 4 : 2;
        var bytes = new byte[data.Length * size];
        for (int i = 0; i < data.Length; i++)
        {
            switch (dtype)
            {
                case SafetensorsDType.F32: BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), data[i]); break;
                case SafetensorsDType.F16: BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(2 * i), (Half)data[i]); break;
                default: BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), ToBFloat16(data[i])); break;
            }
        }
        _tensors.Add((name, dtype.ToString(), shape, bytes));
        return this;
    }

    /// <summary>Adds an int64 tensor.</summary>
    public SafetensorsWriter Add(string name, ReadOnlySpan<long> data, int[] shape)
    {
        CheckLength(name, data.Length, shape);
        var bytes = new byte[data.Length * 8];
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), data[i]);
        _tensors.Add((name, "I64", shape, bytes));
        return this;
    }

    /// <summary>Writes the file; an existing file is replaced only once the new one is complete.</summary>
    public void Save(string path)
    {
        var names = new HashSet<string>();
        foreach (var t in _tensors)
            if (!names.Add(t.Name)) throw new ArgumentException($"safetensors writer: tensor '{t.Name}' added twice");
        var header = new Dictionary<string, object>();
        if (_metadata.Count > 0) header["__metadata__"] = _metadata;
        long offset = 0;
        foreach (var t in _tensors)
        {
            header[t.Name] = new { dtype = t.DType, shape = t.Shape, data_offsets = new[] { offset, offset + t.Data.Length } };
            offset += t.Data.Length;
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padded = (json.Length + 7) / 8 * 8;
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
            stream.Write(prefix);
            stream.Write(json);
            for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var t in _tensors) stream.Write(t.Data);
        });
    }

    /// <summary>float32 → bfloat16 with round-to-nearest-even (NaN stays NaN).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint rounded = bits + 0x7FFF + ((bits >> 16) & 1);
        return (ushort)(rounded >> 16);
    }

    private static void CheckLength(string name, int length, int[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        if (n != length) throw new ArgumentException($"safetensors writer: tensor '{name}' has {length} values for shape {Shape.Format(shape)}");
    }
}
