using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// Reads safetensors files: an 8-byte little-endian header length N, N bytes of JSON header, then the tensors'
/// bytes packed back to back. The header is validated on open as the reference implementation
/// (huggingface/safetensors) does; tensors are read on demand at their exact offsets. F32, F16, BF16 and F64
/// tensors load as float32, I64 (and I32) as int64. Every failure is a <see cref="ModelFormatException"/> naming
/// the file, and the tensor where there is one. Reads are positional, so one reader may serve several threads.
/// </summary>
public sealed class SafetensorsReader : IDisposable
{
    /// <summary>Largest header accepted, as in the reference implementation.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly SafeFileHandle _file;
    private readonly Dictionary<string, TensorInfo> _byName;
    private readonly long _dataStart;

    private SafetensorsReader(string path, SafeFileHandle file, SafetensorsHeader header, long dataStart)
    {
        Path = path;
        _file = file;
        Tensors = header.Tensors;
        Metadata = header.Metadata;
        _dataStart = dataStart;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file, as given to <see cref="Open"/>.</summary>
    public string Path { get; }

    /// <summary>Entries in file order (sorted by offset).</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens <paramref name="path"/> and validates its header; the file stays open until disposed.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ModelFormatException">The file is not a valid safetensors file.</exception>
    public static SafetensorsReader Open(string path)
    {
        RegularFile.Require(path, "safetensors file");
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            long length = RandomAccess.GetLength(file);
            if (length < 8) throw SafetensorsHeader.Bad(path, $"the file is {length} bytes, shorter than the 8-byte header length");
            Span<byte> prefix = stackalloc byte[8];
            FileChunks.ReadExactly(file, prefix, 0, Failure(path, null));
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (n > MaxHeaderBytes) throw SafetensorsHeader.Bad(path, $"header length {n} exceeds the {MaxHeaderBytes}-byte limit");
            if ((long)n > length - 8) throw SafetensorsHeader.Bad(path, $"header length {n} runs past the end of the {length}-byte file");
            var headerBytes = new byte[n];
            FileChunks.ReadExactly(file, headerBytes, 8, Failure(path, null));
            var header = SafetensorsHeader.Parse(path, headerBytes, length - 8 - (long)n);
            return new SafetensorsReader(path, file, header, 8 + (long)n);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Whether the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>.</summary>
    /// <exception cref="ModelFormatException">The file holds no such tensor.</exception>
    /// <exception cref="ObjectDisposedException">The reader has been disposed.</exception>
    public TensorInfo Info(string name)
    {
        if (_file.IsClosed) throw new ObjectDisposedException(nameof(SafetensorsReader), $"{Path}: the safetensors reader has been disposed");
        return _byName.TryGetValue(name, out var t) ? t : throw SafetensorsHeader.Bad(Path, "no tensor of that name in the file", name);
    }

    /// <summary>The tensor's values as float32 (F32 as stored; F16, BF16 and F64 converted).</summary>
    /// <exception cref="ModelFormatException">No such tensor, a dtype that is not floating point, or a read error.</exception>
    public float[] ReadFloat32(string name)
    {
        var t = Info(name);
        var values = new float[ElementsFor(t)];
        ReadFloat32(t, values);
        return values;
    }

    /// <summary>Reads the tensor's values as float32 into <paramref name="destination"/>, which must hold exactly its element count.</summary>
    public void ReadFloat32(string name, Span<float> destination)
    {
        var t = Info(name);
        if (destination.Length != t.ElementCount)
            throw new ArgumentException($"{Path}: tensor '{name}' has {t.ElementCount} elements, the destination holds {destination.Length}", nameof(destination));
        ReadFloat32(t, destination);
    }

    /// <summary>The tensor's values as int64 (I64 as stored, I32 widened).</summary>
    /// <exception cref="ModelFormatException">No such tensor, a dtype that is not an integer type, or a read error.</exception>
    public long[] ReadInt64(string name)
    {
        var t = Info(name);
        var values = new long[ElementsFor(t)];
        switch (t.DType)
        {
            case "I64" when BitConverter.IsLittleEndian:
                FileChunks.ReadExactly(_file, MemoryMarshal.AsBytes(values.AsSpan()), _dataStart + t.Begin, Failure(Path, t.Name));
                break;
            case "I64":
                Decode(t, 8, values.AsSpan(), LittleEndian.Int64ToInt64);
                break;
            case "I32":
                Decode(t, 4, values.AsSpan(), LittleEndian.Int32ToInt64);
                break;
            default:
                throw SafetensorsHeader.Bad(Path, $"dtype {t.DType} cannot be read as int64 (I64 or I32 expected)", t.Name);
        }
        return values;
    }

    private void ReadFloat32(TensorInfo t, Span<float> destination)
    {
        switch (t.DType)
        {
            case "F32" when BitConverter.IsLittleEndian:
                FileChunks.ReadExactly(_file, MemoryMarshal.AsBytes(destination), _dataStart + t.Begin, Failure(Path, t.Name));
                break;
            case "F32":
                Decode(t, 4, destination, LittleEndian.SingleToSingle);
                break;
            case "F16":
                Decode(t, 2, destination, LittleEndian.HalfToSingle);
                break;
            case "BF16":
                Decode(t, 2, destination, LittleEndian.BFloat16ToSingle);
                break;
            case "F64":
                Decode(t, 8, destination, LittleEndian.DoubleToSingle);
                break;
            default:
                throw SafetensorsHeader.Bad(Path, $"dtype {t.DType} cannot be read as float32 (F32, F16, BF16 or F64 expected)", t.Name);
        }
    }

    private void Decode<T>(TensorInfo t, int elementBytes, Span<T> destination, FileChunks.Decoder<T> decode) =>
        FileChunks.Decode(_file, _dataStart + t.Begin, elementBytes, destination, decode, Failure(Path, t.Name));

    private int ElementsFor(TensorInfo t) =>
        t.ElementCount <= Array.MaxLength ? (int)t.ElementCount
            : throw SafetensorsHeader.Bad(Path, $"{t.ElementCount} elements are more than one array can hold", t.Name);

    private static Func<string, Exception?, Exception> Failure(string path, string? tensor) => (message, inner) =>
        new ModelFormatException($"{path}: {(tensor is null ? "" : $"tensor '{tensor}': ")}{message}", inner);

    /// <summary>Closes the file.</summary>
    public void Dispose() => _file.Dispose();
}
