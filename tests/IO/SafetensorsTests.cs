using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using NUnit.Framework;

namespace DiffusionKernels.Tests.IO;

public class SafetensorsTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-st-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private string File(string name) => Path.Combine(_dir, name);

    /// <summary>A file from raw header bytes and data bytes (the length prefix is the header's unless overridden).</summary>
    private string Raw(byte[] header, byte[] data, ulong? lengthOverride = null)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthOverride ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        var path = File($"raw{Guid.NewGuid():N}.safetensors");
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Raw(string header, byte[] data, ulong? lengthOverride = null) => Raw(Encoding.UTF8.GetBytes(header), data, lengthOverride);

    /// <summary>Opens the file and reads every tensor in the type its dtype converts to.</summary>
    private static void ReadAll(string path)
    {
        using var r = SafetensorsReader.Open(path);
        foreach (var t in r.Tensors)
            if (t.DType is "I64" or "I32") r.ReadInt64(t.Name);
            else r.ReadFloat32(t.Name);
    }

    private static ModelFormatException Fails(string path)
    {
        var e = Assert.Throws<ModelFormatException>(() => ReadAll(path))!;
        Assert.That(e.Message, Does.Contain(path), "the message names the file");
        return e;
    }

    private static byte[] U16(params ushort[] values)
    {
        var b = new byte[2 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2 * i), values[i]);
        return b;
    }

    /// <summary>The data section of a file written by <see cref="SafetensorsWriter"/>.</summary>
    private static byte[] DataSection(string path)
    {
        var bytes = System.IO.File.ReadAllBytes(path);
        return bytes[(8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes))..];
    }

    [Test]
    public void RoundTripsEveryDTypeAndMetadata()
    {
        float[] values = [1f, -2.5f, 65504f, 6.1035156e-5f, 5.9604645e-8f, 0f, -0f, 3.14159f];
        var path = File("all.safetensors");
        new SafetensorsWriter().AddMetadata("format", "pt").AddMetadata("note", "ünïcode + \"quotes\"")
            .Add("a.f32", values, [2, 4])
            .Add("b.f16", values, [8], SafetensorsDType.F16)
            .Add("c.bf16", values, [4, 2], SafetensorsDType.BF16)
            .Add("d.i64", new long[] { -1, long.MaxValue, long.MinValue }, [3])
            .Add("e.scalar", [42f], [])
            .Save(path);
        using var r = SafetensorsReader.Open(path);
        Assert.That(r.Metadata, Is.EquivalentTo(new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode + \"quotes\"" }));
        Assert.That(r.ReadFloat32("a.f32"), Is.EqualTo(values));
        // Every value above is exact in float16 (65504 is its largest finite value, 2^-14 its smallest normal, 2^-24 its smallest subnormal).
        Assert.That(r.ReadFloat32("b.f16"), Is.EqualTo(new[] { 1f, -2.5f, 65504f, 6.1035156e-5f, 5.9604645e-8f, 0f, -0f, 3.140625f }));
        Assert.That(float.IsNegative(r.ReadFloat32("b.f16")[6]), "-0 keeps its sign");
        Assert.That(r.ReadFloat32("c.bf16"), Is.EqualTo(new[] { 1f, -2.5f, 65536f, 6.1035156e-5f, 5.9604645e-8f, 0f, -0f, 3.140625f }));
        Assert.That(r.ReadInt64("d.i64"), Is.EqualTo(new[] { -1, long.MaxValue, long.MinValue }));
        Assert.That(r.ReadFloat32("e.scalar"), Is.EqualTo(new[] { 42f }));
        var info = r.Info("c.bf16");
        Assert.That((info.DType, info.Shape, info.ByteLength, info.ElementCount), Is.EqualTo(("BF16", new[] { 4, 2 }, 16L, 8L)));
        Assert.That(r.Info("e.scalar").Shape, Is.Empty);
        Assert.That(r.Contains("a.f32") && !r.Contains("z"));
    }

    [Test]
    public void WriterLaysOutTensorsAsTheReferenceDoes()
    {
        var path = File("order.safetensors");
        new SafetensorsWriter().AddMetadata("k", "v")
            .Add("z16", [1f], [1], SafetensorsDType.F16)
            .Add("b32", [1f, 2f, 3f], [3])
            .Add("a32", [1f], [1])
            .Add("bf", [1f], [1], SafetensorsDType.BF16)
            .Add("i", new long[] { 5 }, [1])
            .Save(path);
        var bytes = System.IO.File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.Zero, "header padded to a multiple of 8");
        var header = Encoding.UTF8.GetString(bytes, 8, n);
        Assert.That(header.TrimEnd(' '), Does.EndWith("}"), "padding is spaces");
        Assert.That(header, Does.StartWith("""{"__metadata__":{"k":"v"},"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a32":"""));
        using var r = SafetensorsReader.Open(path);
        Assert.That(r.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "i", "a32", "b32", "bf", "z16" }), "by dtype (largest first), then name");
        Assert.That(r.Tensors.Select(t => t.Begin), Is.EqualTo(new long[] { 0, 8, 12, 24, 26 }));
    }

    /// <summary>float16 bit patterns, written and read (System.Half rounds to nearest even).</summary>
    [Test]
    public void Float16BitPatterns()
    {
        var path = File("f16.safetensors");
        float[] values = [1f, -2.5f, 65504f, 5.9604645e-8f, 6.1035156e-5f, 0f, -0f, 65520f, 1f + 1f / 2048, 1f + 3f / 2048, 2.9802322e-8f];
        new SafetensorsWriter().Add("h", values, [values.Length], SafetensorsDType.F16).Save(path);
        Assert.That(DataSection(path), Is.EqualTo(U16(0x3C00, 0xC100, 0x7BFF, 0x0001, 0x0400, 0x0000, 0x8000,
            0x7C00 /* 65520 rounds up to +inf */, 0x3C00 /* tie, to even */, 0x3C02 /* tie, to even (up) */, 0x0000 /* half of 2^-24: tie to 0 */)));

        var read = Raw("""{"h":{"dtype":"F16","shape":[8],"data_offsets":[0,16]}}""", U16(0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0xFC00, 0x7E00));
        using var r = SafetensorsReader.Open(read);
        var h = r.ReadFloat32("h");
        Assert.That(h[..7], Is.EqualTo(new[] { 1f, -2.5f, 65504f, MathF.Pow(2, -24), 1023 * MathF.Pow(2, -24), float.PositiveInfinity, float.NegativeInfinity }));
        Assert.That(float.IsNaN(h[7]));
    }

    /// <summary>bfloat16: round to nearest even on write, exact on read.</summary>
    [Test]
    public void BFloat16BitPatterns()
    {
        static ushort Bf(uint floatBits) => BFloat16.FromSingle(BitConverter.UInt32BitsToSingle(floatBits));
        Assert.That(BFloat16.FromSingle(1f), Is.EqualTo(0x3F80));
        Assert.That(BFloat16.FromSingle(-2.5f), Is.EqualTo(0xC020));
        Assert.That(Bf(0x3F808000), Is.EqualTo(0x3F80), "tie goes to even (down)");
        Assert.That(Bf(0x3F818000), Is.EqualTo(0x3F82), "tie goes to even (up)");
        Assert.That(Bf(0x3F808001), Is.EqualTo(0x3F81), "above the tie rounds up");
        Assert.That(Bf(0x3F807FFF), Is.EqualTo(0x3F80), "below the tie rounds down");
        Assert.That(Bf(0xBF818000), Is.EqualTo(0xBF82), "negative ties too");
        Assert.That(Bf(0x7F7FFFFF), Is.EqualTo(0x7F80), "float.MaxValue rounds to +inf");
        Assert.That(Bf(0x000116C2), Is.EqualTo(0x0001), "subnormal");
        Assert.That(BFloat16.FromSingle(float.NegativeInfinity), Is.EqualTo(0xFF80));
        Assert.That(Bf(0x7FC00000), Is.EqualTo(0x7FC0), "quiet NaN");
        Assert.That(Bf(0x7F800001), Is.EqualTo(0x7FC0), "a NaN whose payload truncates away stays NaN, not +inf");
        Assert.That(Bf(0xFF800001), Is.EqualTo(0xFFC0), "sign of a NaN kept");

        var path = File("bf16.safetensors");
        new SafetensorsWriter().Add("b", [1f, -2.5f, BitConverter.UInt32BitsToSingle(0x3F818000)], [3], SafetensorsDType.BF16).Save(path);
        Assert.That(DataSection(path), Is.EqualTo(U16(0x3F80, 0xC020, 0x3F82)));

        var read = Raw("""{"b":{"dtype":"BF16","shape":[6],"data_offsets":[0,12]}}""", U16(0x3F80, 0xC020, 0x0001, 0x7F7F, 0xFF80, 0x7FC1));
        using var r = SafetensorsReader.Open(read);
        var b = r.ReadFloat32("b");
        Assert.That(b.Select(BitConverter.SingleToUInt32Bits), Is.EqualTo(new uint[] { 0x3F800000, 0xC0200000, 0x00010000, 0x7F7F0000, 0xFF800000, 0x7FC10000 }),
            "reading is exact: the 16 bits become the top of the float32");
    }

    [Test]
    public void Float64AndInt32AreConvertedOnRead()
    {
        var data = new byte[3 * 8 + 2 * 4];
        BinaryPrimitives.WriteDoubleLittleEndian(data, 1.5);
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(8), -1e300);
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(16), 0.1);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(24), -7);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(28), int.MaxValue);
        using var r = SafetensorsReader.Open(Raw("""{"d":{"dtype":"F64","shape":[3],"data_offsets":[0,24]},"i":{"dtype":"I32","shape":[2],"data_offsets":[24,32]}}""", data));
        Assert.That(r.ReadFloat32("d"), Is.EqualTo(new[] { 1.5f, float.NegativeInfinity, 0.1f }));
        Assert.That(r.ReadInt64("i"), Is.EqualTo(new long[] { -7, int.MaxValue }));
    }

    [Test]
    public void DTypesThatDoNotConvertFailOnlyWhenRead()
    {
        using var r = SafetensorsReader.Open(Raw("""{"q":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]},"m":{"dtype":"BOOL","shape":[2],"data_offsets":[2,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"l":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}""", new byte[16]));
        Assert.That(r.ReadFloat32("x"), Is.EqualTo(new[] { 0f }), "the file opens and its other tensors read");
        Assert.That(Assert.Throws<ModelFormatException>(() => r.ReadFloat32("q"))!.Message, Does.Contain("'q'").And.Contain("F8_E4M3").And.Contain(r.Path));
        Assert.That(Assert.Throws<ModelFormatException>(() => r.ReadInt64("m"))!.Message, Does.Contain("'m'").And.Contain("BOOL"));
        Assert.That(Assert.Throws<ModelFormatException>(() => r.ReadFloat32("l"))!.Message, Does.Contain("I64"));
        Assert.That(Assert.Throws<ModelFormatException>(() => r.ReadInt64("x"))!.Message, Does.Contain("F32"));
    }

    [Test]
    public void AcceptsWhatTheReferenceAccepts()
    {
        // Space padding, an empty tensor sharing an offset, a scalar, a null __metadata__, unknown members.
        var path = Raw("""{"__metadata__":null,"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"x":{"dtype":"F32","shape":[],"data_offsets":[0,4],"extra":{"n":[1,{"d":null}]}}}      """, new byte[4]);
        using (var r = SafetensorsReader.Open(path))
        {
            Assert.That(r.Metadata, Is.Empty);
            Assert.That(r.ReadFloat32("e"), Is.Empty);
            Assert.That(r.ReadFloat32("x"), Is.EqualTo(new[] { 0f }));
            Assert.That(r.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "e", "x" }));
        }
        // No tensors at all; whitespace around the object; sub-byte dtypes that fill whole bytes; an escaped name.
        using (var r = SafetensorsReader.Open(Raw(" \n{}\t ", [])))
            Assert.That(r.Tensors, Is.Empty);
        using (var r = SafetensorsReader.Open(Raw("""{"f\u00e9":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}""", [0])))
            Assert.That(r.Info("fé").ByteLength, Is.EqualTo(1));
    }

    [Test]
    public void TooSmallFile()
    {
        var path = File("tiny.safetensors");
        System.IO.File.WriteAllBytes(path, [1, 2, 3]);
        Assert.That(Fails(path).Message, Does.Contain("shorter than the 8-byte"));
    }

    [Test]
    public void HeaderLengthAboveTheLimit() =>
        Assert.That(Fails(Raw("{}", [], lengthOverride: 100_000_001)).Message, Does.Contain("exceeds the 100000000-byte limit"));

    [TestCase(5000UL)]
    [TestCase(3UL)] // one byte past the end of a 2-byte header with no data
    [TestCase(ulong.MaxValue)]
    public void HeaderLengthPastTheEnd(ulong n)
    {
        var path = Raw("{}", [], lengthOverride: n);
        Assert.That(Fails(path).Message, Does.Contain(n == ulong.MaxValue ? "exceeds" : "runs past the end"));
    }

    [Test]
    public void TruncatedData() =>
        Assert.That(Fails(Raw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", new byte[5])).Message, Does.Contain("truncated").And.Contain("need 8"));

    [Test]
    public void DataSectionLongerThanCovered() =>
        Assert.That(Fails(Raw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", new byte[12])).Message, Does.Contain("trailing").And.Contain("cover only 8"));

    [Test]
    public void OverlappingOffsets()
    {
        var e = Fails(Raw("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", new byte[12]));
        Assert.That(e.Message, Does.Contain("'b'").And.Contain("overlap"));
    }

    [Test]
    public void GapBetweenTensors()
    {
        var e = Fails(Raw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", new byte[12]));
        Assert.That(e.Message, Does.Contain("'b'").And.Contain("gap"));
    }

    [Test]
    public void FirstTensorMustStartAtZero() =>
        Assert.That(Fails(Raw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", new byte[8])).Message, Does.Contain("'a'").And.Contain("gap of 4 bytes after offset 0"));

    [Test]
    public void EndBeforeBegin() =>
        Assert.That(Fails(Raw("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", new byte[4])).Message,
            Does.Contain("'b'").And.Contain("end before they begin"));

    [Test]
    public void ShapeAndSizeDisagree() =>
        Assert.That(Fails(Raw("""{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}""", new byte[8])).Message, Does.Contain("'w'").And.Contain("needs 6 bytes"));

    [Test]
    public void SubByteDTypeThatSplitsAByte() =>
        Assert.That(Fails(Raw("""{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}""", new byte[2])).Message, Does.Contain("'w'").And.Contain("whole bytes"));

    [Test]
    public void UnknownDType() =>
        Assert.That(Fails(Raw("""{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}""", new byte[8])).Message, Does.Contain("'w'").And.Contain("unknown dtype 'Q4'"));

    [Test]
    public void DuplicateNames()
    {
        var e = Fails(Raw("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", new byte[8]));
        Assert.That(e.Message, Does.Contain("'w'").And.Contain("twice"));
        Assert.That(Fails(Raw("""{"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}""", new byte[4])).Message, Does.Contain("'dtype' appears twice"));
        Assert.That(Fails(Raw("""{"__metadata__":{"a":"1","a":"2"}}""", [])).Message, Does.Contain("'a' appears twice"));
        Assert.That(Fails(Raw("""{"__metadata__":{},"__metadata__":{}}""", [])).Message, Does.Contain("twice"));
    }

    [TestCase("not json", "not valid JSON")]
    [TestCase("{\"a\": ", "not valid JSON")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],}}", "not valid JSON")] // trailing comma
    [TestCase("{} {}", "not valid JSON")]
    [TestCase("{}x", "not valid JSON")]
    [TestCase("", "not valid JSON")]
    [TestCase("   ", "not valid JSON")]
    [TestCase("[1, 2]", "not a JSON object")]
    [TestCase("3", "not a JSON object")]
    [TestCase("\"s\"", "not a JSON object")]
    [TestCase("null", "not a JSON object")]
    public void InvalidOrNonObjectJson(string header, string expected) =>
        Assert.That(Fails(Raw(header, [])).Message, Does.Contain(expected));

    [TestCase("""{"w": 3}""", "not an object")]
    [TestCase("""{"w":{"shape":[1],"data_offsets":[0,4]}}""", "no 'dtype'")]
    [TestCase("""{"w":{"dtype":"F32","data_offsets":[0,4]}}""", "no 'shape'")]
    [TestCase("""{"w":{"dtype":"F32","shape":[1]}}""", "no 'data_offsets'")]
    [TestCase("""{"w":{"dtype":5,"shape":[1],"data_offsets":[0,4]}}""", "not a string")]
    [TestCase("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", "holds -1")]
    [TestCase("""{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}""", "holds 1.0")]
    [TestCase("""{"w":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}""", "holds 1e0")]
    [TestCase("""{"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}""", "holds a string")]
    [TestCase("""{"w":{"dtype":"F32","shape":1,"data_offsets":[0,4]}}""", "not an array")]
    [TestCase("""{"w":{"dtype":"F32","shape":[2147483648,0],"data_offsets":[0,0]}}""", "larger than 2^31-1")]
    [TestCase("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""", "not [begin, end]")]
    [TestCase("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}""", "not [begin, end]")]
    [TestCase("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}""", "holds 18446744073709551615")]
    [TestCase("""{"__metadata__":{"k": 1}}""", "not a string")]
    [TestCase("""{"__metadata__":["k"]}""", "not an object of strings")]
    public void MalformedEntries(string header, string expected) =>
        Assert.That(Fails(Raw(header, new byte[4])).Message, Does.Contain(expected));

    [Test]
    public void HeaderMustBeUtf8()
    {
        var header = Encoding.UTF8.GetBytes("""{"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}""");
        header[2] = 0xFF;
        Assert.That(Fails(Raw(header, [])).Message, Does.Contain("not valid UTF-8"));
        // A byte-order mark is valid UTF-8 but not JSON whitespace (serde_json rejects it too).
        Assert.That(Fails(Raw([0xEF, 0xBB, 0xBF, (byte)'{', (byte)'}'], [])).Message, Does.Contain("not valid JSON"));
        // An escape that decodes to a lone surrogate cannot become a .NET string name without loss.
        Assert.That(Fails(Raw("""{"\ud800":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}""", [])).Message, Does.Contain("invalid string"));
    }

    [Test]
    public void OverflowingShape() =>
        Assert.That(Fails(Raw("""{"w":{"dtype":"F64","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}""", new byte[8])).Message,
            Does.Contain("'w'").And.Contain("overflows"));

    [Test]
    public void MissingTensorIsNamed()
    {
        var path = File("one.safetensors");
        new SafetensorsWriter().Add("x", [1f], [1]).Save(path);
        using var r = SafetensorsReader.Open(path);
        var e = Assert.Throws<ModelFormatException>(() => r.ReadFloat32("y"))!;
        Assert.That(e.Message, Does.Contain("'y'").And.Contain(path));
        Assert.That(Assert.Throws<ModelFormatException>(() => r.ReadInt64("y"))!.Message, Does.Contain("'y'").And.Contain(path));
        Assert.Throws<FileNotFoundException>(() => SafetensorsReader.Open(File("absent.safetensors")));
    }

    [Test]
    public void LargeTensorsConvertAcrossChunks()
    {
        // 1.5M float16 values: 3 MB of data, several conversion chunks, and a 6 MB float32 result.
        var values = new float[1_500_000];
        for (int i = 0; i < values.Length; i++) values[i] = (i % 4096) - 2048;
        var path = File("big.safetensors");
        new SafetensorsWriter().Add("h", values, [1500, 1000], SafetensorsDType.F16).Add("f", values, [values.Length]).Save(path);
        using var r = SafetensorsReader.Open(path);
        Assert.That(r.ReadFloat32("h"), Is.EqualTo(values));
        var into = new float[values.Length];
        r.ReadFloat32("f", into);
        Assert.That(into, Is.EqualTo(values));
        Assert.Throws<ArgumentException>(() => r.ReadFloat32("f", new float[3]));
    }

    [Test]
    public void AFileThatShrinksAfterOpeningFailsWithAFormatError()
    {
        var path = File("shrink.safetensors");
        new SafetensorsWriter().Add("x", new float[64], [64]).Save(path);
        using var r = SafetensorsReader.Open(path);
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            f.SetLength(f.Length - 16);
        }
        catch (IOException)
        {
            Assert.Ignore("this platform does not let a second handle truncate an open file");
        }
        Assert.That(Assert.Throws<ModelFormatException>(() => r.ReadFloat32("x"))!.Message, Does.Contain("'x'").And.Contain("ends at offset"));
    }

    private const string Structural = "{}[],:\"0123456789- ";

    /// <summary>Random byte changes (header and data) and truncations of a valid file either read or fail with ModelFormatException, never anything else.</summary>
    [Test]
    public void FuzzedFilesFailOnlyWithModelFormatException()
    {
        var valid = File("valid.safetensors");
        new SafetensorsWriter().AddMetadata("format", "pt").Add("a", [1f, 2f, 3f], [3]).Add("b", new long[] { 4 }, [1])
            .Add("c", [5f, 6f], [2], SafetensorsDType.F16).Add("d", [7f], [1, 1], SafetensorsDType.BF16).Save(valid);
        var original = System.IO.File.ReadAllBytes(valid);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var rng = new Random(1234);
        int ok = 0, rejected = 0, iterations = 600;
        for (int iter = 0; iter < iterations; iter++)
        {
            var bytes = (byte[])original.Clone();
            switch (iter % 6)
            {
                case 0: // truncation anywhere
                    bytes = bytes[..rng.Next(bytes.Length)];
                    break;
                case 1: // the length prefix
                    bytes[rng.Next(8)] = (byte)rng.Next(256);
                    break;
                case 2: // data bytes only: the file stays valid
                    for (int k = rng.Next(1, 8); k > 0; k--) bytes[rng.Next(headerEnd, bytes.Length)] = (byte)rng.Next(256);
                    break;
                case 3: // structural characters of the header swapped for other structural characters
                    for (int k = rng.Next(1, 3); k > 0; k--) bytes[rng.Next(8, headerEnd)] = (byte)Structural[rng.Next(Structural.Length)];
                    break;
                default: // any bytes anywhere in the header
                    for (int k = rng.Next(1, 4); k > 0; k--) bytes[rng.Next(8, headerEnd)] = (byte)rng.Next(256);
                    break;
            }
            var path = File($"fuzz{iter}.safetensors");
            System.IO.File.WriteAllBytes(path, bytes);
            try
            {
                ReadAll(path);
                ok++;
            }
            catch (ModelFormatException e)
            {
                if (iter % 6 == 2) Assert.Fail($"changing data bytes only must keep the file readable: {e.Message}");
                rejected++;
            }
            System.IO.File.Delete(path);
        }
        Assert.That(rejected, Is.GreaterThan(iterations / 2), "most mutations must be caught");
        Assert.That(ok, Is.GreaterThanOrEqualTo(iterations / 6), "data-only changes (and harmless header changes) still read");
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1));
    }

    [Test]
    public void SaveIsAtomicAndChecksItsArguments()
    {
        var path = File("model.safetensors");
        new SafetensorsWriter().Add("x", [1f], [1]).Save(path);
        var w = new SafetensorsWriter().Add("x", [2f], [1]);
        Assert.Throws<ArgumentException>(() => w.Add("x", [3f], [1]), "a name added twice");
        Assert.Throws<ArgumentException>(() => w.Add("__metadata__", [3f], [1]), "the reserved name");
        Assert.Throws<ArgumentException>(() => w.Add("y", [3f], [2]), "too few values");
        Assert.Throws<ArgumentException>(() => w.Add("y", [], [-1, 0]), "a negative dimension");
        Assert.Throws<DirectoryNotFoundException>(() => w.Save(Path.Combine(_dir, "no-such-dir", "m.safetensors")));
        using (var r = SafetensorsReader.Open(path))
            Assert.That(r.ReadFloat32("x"), Is.EqualTo(new[] { 1f }), "a failed save leaves the old file intact");
        w.Save(path);
        using (var r = SafetensorsReader.Open(path))
            Assert.That(r.ReadFloat32("x"), Is.EqualTo(new[] { 2f }), "a later save replaces it");
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "no temporary files left behind");
    }

    [Test]
    public void WrittenHeaderIsPlainJson()
    {
        var path = File("names.safetensors");
        new SafetensorsWriter().Add("a+b<c>\"d\"\\é", [1f], [1]).Save(path);
        var bytes = System.IO.File.ReadAllBytes(path);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes)));
        Assert.That(doc.RootElement.EnumerateObject().Single().Name, Is.EqualTo("a+b<c>\"d\"\\é"));
        Assert.That(Encoding.UTF8.GetString(bytes), Does.Contain("a+b<c>"), "no needless \\u escapes");
        using var r = SafetensorsReader.Open(path);
        Assert.That(r.ReadFloat32("a+b<c>\"d\"\\é"), Is.EqualTo(new[] { 1f }));
    }
}
