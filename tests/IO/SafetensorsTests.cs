using System.Buffers.Binary;
using System.Text;
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

    /// <summary>A file from a raw header string and data bytes (the header length prefix is computed).</summary>
    private string Raw(string header, byte[] data, ulong? lengthOverride = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthOverride ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        var path = File($"raw{Guid.NewGuid():N}.safetensors");
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    private static ModelFormatException Fails(string path) =>
        Assert.Throws<ModelFormatException>(() => { using var r = SafetensorsReader.Open(path); foreach (var t in r.Tensors) _ = t.DType == "I64" ? (object)r.ReadInt64(t.Name) : r.ReadFloat32(t.Name); })!;

    [Test]
    public void RoundTripsEveryDTypeAndMetadata()
    {
        float[] values = [1f, -2.5f, 65504f, 6.1e-5f, 5.96e-8f, 0f, -0f, 3.14159f];
        var path = File("all.safetensors");
        new SafetensorsWriter().AddMetadata("format", "pt")
            .Add("a.f32", values, [2, 4])
            .Add("b.f16", values, [8], SafetensorsDType.F16)
            .Add("c.bf16", values, [4, 2], SafetensorsDType.BF16)
            .Add("d.i64", new long[] { -1, long.MaxValue, 7 }, [3])
            .Save(path);
        using var r = SafetensorsReader.Open(path);
        Assert.That(r.Metadata["format"], Is.EqualTo("pt"));
        Assert.That(r.ReadFloat32("a.f32"), Is.EqualTo(values));
        Assert.That(r.ReadFloat32("b.f16"), Is.EqualTo(values.Select(v => (float)(Half)v).ToArray()));
        Assert.That(r.ReadFloat32("b.f16")[2], Is.EqualTo(65504f), "largest half");
        Assert.That(r.ReadFloat32("b.f16")[4], Is.EqualTo(5.96e-8f).Within(1e-10f), "half subnormal");
        var bf = r.ReadFloat32("c.bf16");
        Assert.That(bf[0], Is.EqualTo(1f));
        Assert.That(bf[1], Is.EqualTo(-2.5f));
        Assert.That(bf[7], Is.EqualTo(3.140625f), "bf16 keeps 8 significant bits, rounding to nearest");
        Assert.That(r.ReadInt64("d.i64"), Is.EqualTo(new long[] { -1, long.MaxValue, 7 }));
        Assert.That(r.Tensors.Single(t => t.Name == "c.bf16").Shape, Is.EqualTo(new[] { 4, 2 }));
    }

    [Test]
    public void Bf16RoundsToNearestEven()
    {
        Assert.That(SafetensorsWriter.ToBFloat16(1f), Is.EqualTo(0x3F80));
        Assert.That(SafetensorsWriter.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808000)), Is.EqualTo(0x3F80), "tie goes to even");
        Assert.That(SafetensorsWriter.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F818000)), Is.EqualTo(0x3F82), "tie goes to even (up)");
        Assert.That(SafetensorsWriter.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808001)), Is.EqualTo(0x3F81));
        Assert.That(float.IsNaN(BitConverter.Int32BitsToSingle(SafetensorsWriter.ToBFloat16(float.NaN) << 16)));
    }

    [Test]
    public void HeaderPaddedWithSpacesAndEmptyTensorsAreAccepted()
    {
        var path = Raw("""{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}      """, new byte[4]);
        using var r = SafetensorsReader.Open(path);
        Assert.That(r.ReadFloat32("e"), Is.Empty);
        Assert.That(r.ReadFloat32("x"), Is.EqualTo(new[] { 0f }));
    }

    private static readonly byte[] Eight = new byte[8];

    [TestCase("shorter than the 8-byte")]
    public void TooSmallFile(string expected)
    {
        var path = File("tiny.safetensors");
        System.IO.File.WriteAllBytes(path, [1, 2, 3]);
        Assert.That(Fails(path).Message, Does.Contain(expected).And.Contain(path));
    }

    [Test]
    public void HugeHeaderLength() =>
        Assert.That(Fails(Raw("{}", [], lengthOverride: 200_000_000)).Message, Does.Contain("exceeds the 100000000-byte limit"));

    [Test]
    public void HeaderLengthPastTheEnd() =>
        Assert.That(Fails(Raw("{}", [], lengthOverride: 5000)).Message, Does.Contain("runs past the end"));

    [Test]
    public void TruncatedData() =>
        Assert.That(Fails(Raw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", new byte[5])).Message, Does.Contain("truncated"));

    [Test]
    public void TrailingBytes() =>
        Assert.That(Fails(Raw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", new byte[12])).Message, Does.Contain("trailing"));

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
    public void ShapeAndSizeDisagree()
    {
        var e = Fails(Raw("""{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}""", Eight));
        Assert.That(e.Message, Does.Contain("'w'").And.Contain("needs 6 bytes"));
    }

    [Test]
    public void UnknownDType() =>
        Assert.That(Fails(Raw("""{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}""", Eight)).Message, Does.Contain("'w'").And.Contain("Q4"));

    [Test]
    public void DuplicateNames()
    {
        var e = Fails(Raw("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", Eight));
        Assert.That(e.Message, Does.Contain("duplicate").And.Contain("'w'"));
    }

    [TestCase("not json")]
    [TestCase("[1, 2]")]
    [TestCase("""{"w": 3}""")]
    [TestCase("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}""")]
    [TestCase("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""")]
    [TestCase("""{"__metadata__":{"k": 1}}""")]
    public void MalformedHeaders(string header) => Fails(Raw(header, []));

    [Test]
    public void OverflowingShape() =>
        Assert.That(Fails(Raw("""{"w":{"dtype":"F64","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}""", Eight)).Message, Does.Contain("overflow"));

    [Test]
    public void MissingTensorIsNamed()
    {
        var path = File("one.safetensors");
        new SafetensorsWriter().Add("x", [1f], [1]).Save(path);
        using var r = SafetensorsReader.Open(path);
        var e = Assert.Throws<ModelFormatException>(() => r.ReadFloat32("y"))!;
        Assert.That(e.Message, Does.Contain("'y'").And.Contain(path));
    }

    /// <summary>Random byte flips and truncations of a valid file either read or fail with ModelFormatException, never anything else.</summary>
    [Test]
    public void FuzzedFilesFailOnlyWithModelFormatException()
    {
        var valid = File("valid.safetensors");
        new SafetensorsWriter().AddMetadata("format", "pt").Add("a", [1f, 2f, 3f], [3]).Add("b", new long[] { 4 }, [1]).Add("c", [5f, 6f], [2], SafetensorsDType.F16).Save(valid);
        var original = System.IO.File.ReadAllBytes(valid);
        var rng = new Random(1234);
        int ok = 0, rejected = 0;
        for (int iter = 0; iter < 400; iter++)
        {
            var bytes = (byte[])original.Clone();
            if (iter % 10 == 0) bytes = bytes[..rng.Next(bytes.Length)];
            else
                for (int k = rng.Next(1, 4); k > 0; k--)
                {
                    // Mostly the header (where the structure is), sometimes the prefix or the data.
                    int at = rng.Next(3) == 0 ? rng.Next(bytes.Length) : 8 + rng.Next(Math.Max(1, bytes.Length - 8 - 16));
                    bytes[at] = (byte)rng.Next(256);
                }
            var path = File($"fuzz{iter}.safetensors");
            System.IO.File.WriteAllBytes(path, bytes);
            try
            {
                using var r = SafetensorsReader.Open(path);
                foreach (var t in r.Tensors)
                    if (t.DType == "I64") r.ReadInt64(t.Name);
                    else r.ReadFloat32(t.Name);
                ok++;
            }
            catch (ModelFormatException)
            {
                rejected++;
            }
        }
        Assert.That(rejected, Is.GreaterThan(100), "most mutations must be caught");
        Assert.That(ok + rejected, Is.EqualTo(400));
    }

    [Test]
    public void SaveIsAtomic()
    {
        var path = File("model.safetensors");
        new SafetensorsWriter().Add("x", [1f], [1]).Save(path);
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter().Add("x", [1f], [1]).Add("x", [2f], [1]).Save(path));
        using var r = SafetensorsReader.Open(path);
        Assert.That(r.ReadFloat32("x"), Is.EqualTo(new[] { 1f }), "a failed save leaves the old file intact");
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "no temporary files left behind");
    }
}
