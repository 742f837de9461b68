using System.Buffers.Binary;
using System.Text;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.IO;

public class NpyTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-npy-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    /// <summary>A .npy file from a header string taken as is (no padding added) and data bytes.</summary>
    private string Hand(string header, byte[] data, int major = 1, Encoding? encoding = null)
    {
        var h = (encoding ?? Encoding.Latin1).GetBytes(header);
        int prefix = major == 1 ? 10 : 12;
        var bytes = new byte[prefix + h.Length + data.Length];
        new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' }.CopyTo(bytes, 0);
        bytes[6] = (byte)major;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)h.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)h.Length);
        h.CopyTo(bytes, prefix);
        data.CopyTo(bytes, prefix + h.Length);
        var path = P($"hand{Guid.NewGuid():N}.npy");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] F32(params float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    private static ModelFormatException Fails(string path)
    {
        var e = Assert.Throws<ModelFormatException>(() => Npy.Read(path))!;
        Assert.That(e.Message, Does.Contain(path), "the message names the file");
        return e;
    }

    [TestCase(new[] { 2, 3, 5 })]
    [TestCase(new[] { 7 })]
    [TestCase(new int[0])]
    [TestCase(new[] { 0, 3 })]
    [TestCase(new[] { 1, 1, 1, 1 })]
    public void RoundTripsFloatAndInt64(int[] shape)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var path = P("x.npy");
        var data = TestData.Normal(n, 1);
        Npy.Write(path, data, shape);
        var a = Npy.Read(path);
        Assert.That((a.Shape, a.DType, a.Longs), Is.EqualTo((shape, "float32", (long[]?)null)));
        Assert.That(a.Floats, Is.EqualTo(data));
        var longs = Enumerable.Range(0, n).Select(i => (long)i * 3_000_000_000L - 7).ToArray();
        Npy.Write(path, longs, shape);
        var b = Npy.Read(path);
        Assert.That((b.Shape, b.DType, b.Floats), Is.EqualTo((shape, "int64", (float[]?)null)));
        Assert.That(b.Longs, Is.EqualTo(longs));
    }

    [Test]
    public void WrittenHeaderIsNumpys()
    {
        var path = P("h.npy");
        Npy.Write(path, new float[6], [2, 3]);
        var bytes = File.ReadAllBytes(path);
        Assert.That(bytes[..8], Is.EqualTo(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }));
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.That((10 + headerLength) % 64, Is.Zero, "the data starts 64-byte aligned");
        var header = Encoding.Latin1.GetString(bytes, 10, headerLength);
        Assert.That(header, Does.StartWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }").And.EndWith(" \n"));
        Assert.That(bytes.Length, Is.EqualTo(10 + headerLength + 24));
        Npy.Write(path, new long[1], [1]);
        Assert.That(Encoding.Latin1.GetString(File.ReadAllBytes(path)), Does.Contain("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }"));
    }

    [Test]
    public void AHeaderTooLongForVersion1IsWrittenAsVersion2()
    {
        var shape = Enumerable.Repeat(1, 30_000).ToArray(); // ~90 KB of "1, "
        var path = P("v2.npy");
        Npy.Write(path, [4.5f], shape);
        var bytes = File.ReadAllBytes(path);
        Assert.That(bytes[6], Is.EqualTo(2));
        Assert.That((12 + BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8))) % 64, Is.Zero);
        var a = Npy.Read(path);
        Assert.That(a.Shape, Is.EqualTo(shape));
        Assert.That(a.Floats, Is.EqualTo(new[] { 4.5f }));
    }

    /// <summary>Files written by numpy itself (tools/fixtures/make_npy_fixtures.py).</summary>
    [Test]
    public void ReadsFilesWrittenByNumpy()
    {
        var f32 = Npy.Read(Fixtures.Path("npy", "f32_2x3.npy"));
        Assert.That((f32.Shape, f32.DType), Is.EqualTo((new[] { 2, 3 }, "float32")));
        Assert.That(f32.Floats, Is.EqualTo(new[] { 0f, 0.5f, 1f, 1.5f, 2f, 2.5f }));
        var f64 = Npy.Read(Fixtures.Path("npy", "f64_4.npy"));
        Assert.That(f64.DType, Is.EqualTo("float64"));
        Assert.That(f64.Floats, Is.EqualTo(new[] { 1f, -2f, 3.25f, 1e-3f }));
        var i64 = Npy.Read(Fixtures.Path("npy", "i64_3.npy"));
        Assert.That(i64.Longs, Is.EqualTo(new long[] { 0, 999, -5 }));
        var scalar = Npy.Read(Fixtures.Path("npy", "f32_scalar.npy"));
        Assert.That(scalar.Shape, Is.Empty);
        Assert.That(scalar.Floats, Is.EqualTo(new[] { 7.5f }));
        var v2 = Npy.Read(Fixtures.Path("npy", "f32_v2.npy"));
        Assert.That(v2.Floats, Is.EqualTo(new[] { 1f, 2f }));
        var v3 = Npy.Read(Fixtures.Path("npy", "i64_v3.npy"));
        Assert.That((v3.Shape, v3.Longs), Is.EqualTo((new[] { 1, 3 }, new long[] { 1, 2, 3 })));
        var mask = Npy.Read(Fixtures.Path("npy", "bool_2x2.npy"));
        Assert.That((mask.DType, mask.Floats), Is.EqualTo(("bool", new[] { 1f, 0f, 0f, 1f })));
        var u8 = Npy.Read(Fixtures.Path("npy", "u8_4.npy"));
        Assert.That((u8.DType, u8.Floats), Is.EqualTo(("uint8", new[] { 0f, 1f, 128f, 255f })));
        var i32 = Npy.Read(Fixtures.Path("npy", "i32_3.npy"));
        Assert.That((i32.DType, i32.Longs), Is.EqualTo(("int32", new long[] { int.MinValue, 0, int.MaxValue })));
        Assert.That(i32.AsFloat32(), Is.EqualTo(new[] { (float)int.MinValue, 0f, (float)int.MaxValue }));
        var f16 = Npy.Read(Fixtures.Path("npy", "f16_3.npy"));
        Assert.That(f16.Floats, Is.EqualTo(new[] { 1f, -2.5f, 65504f }));
        var empty = Npy.Read(Fixtures.Path("npy", "f32_empty_0x3.npy"));
        Assert.That((empty.Shape, empty.Length), Is.EqualTo((new[] { 0, 3 }, 0)));
    }

    [Test]
    public void FortranOrderIsRejectedWhereItChangesTheLayout()
    {
        var e = Fails(Fixtures.Path("npy", "f32_fortran.npy"));
        Assert.That(e.Message, Does.Contain("Fortran order").And.Contain("ascontiguousarray"));
        // With at most one dimension above 1 the two orders are the same bytes.
        var a = Npy.Read(Hand("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2, 1), }\n", F32(1, 2)));
        Assert.That(a.Floats, Is.EqualTo(new[] { 1f, 2f }));
    }

    [Test]
    public void BigEndianIsRejected() =>
        Assert.That(Fails(Fixtures.Path("npy", "f32_big_endian.npy")).Message, Does.Contain("'>f4' is big-endian"));

    [Test]
    public void HeaderSyntaxVariants()
    {
        // Key order, double quotes, no trailing comma, no padding, Python 2 longs, '|' and '=' byte orders.
        Assert.That(Npy.Read(Hand("{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<f4\"}", F32(3, 4))).Floats, Is.EqualTo(new[] { 3f, 4f }));
        Assert.That(Npy.Read(Hand("{'descr':'=f4','fortran_order':False,'shape':(1,)}", F32(5))).Floats, Is.EqualTo(new[] { 5f }));
        Assert.That(Npy.Read(Hand("{'descr': '>u1', 'fortran_order': False, 'shape': (2,), }", [7, 0])).Floats, Is.EqualTo(new[] { 7f, 0f }), "byte order is moot for one byte");
        Assert.That(Npy.Read(Hand("{'descr': '<f4', 'fortran_order': False, 'shape': ( 1 , 1 , ), }", F32(6))).Shape, Is.EqualTo(new[] { 1, 1 }));
        Assert.That(Npy.Read(Hand("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", F32(8), major: 2)).Floats, Is.EqualTo(new[] { 8f }));
        Assert.That(Npy.Read(Hand("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } \n", F32(9), major: 3)).Floats, Is.EqualTo(new[] { 9f }));
    }

    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", "not a tuple")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "non-negative integer")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648,), }", "larger than 2^31-1")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", "'(' was expected")]
    [TestCase("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", "True or False")]
    [TestCase("{'descr': '<f4', 'shape': (1,), }", "no 'fortran_order'")]
    [TestCase("{'fortran_order': False, 'shape': (1,), }", "no 'descr'")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, }", "no 'shape'")]
    [TestCase("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "appears twice")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", "after the header dict")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "'}' was expected")]
    [TestCase("{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", "was expected")]
    [TestCase("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,), }", "escapes")]
    [TestCase("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "structured dtypes")]
    [TestCase("{'descr': '', 'fortran_order': False, 'shape': (1,), }", "dtype '' is not supported")]
    [TestCase("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "dtype '<c8' is not supported")]
    [TestCase("{'descr': '<U1', 'fortran_order': False, 'shape': (1,), }", "dtype '<U1' is not supported")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536, 65536, 65536, 65536), }", "more elements than can be counted")]
    [TestCase("", "'{' was expected")]
    [TestCase("'descr'", "'{' was expected")]
    public void MalformedHeaders(string header, string expected) =>
        Assert.That(Fails(Hand(header, F32(0))).Message, Does.Contain(expected));

    [Test]
    public void MalformedFiles()
    {
        var path = P("t.npy");
        Npy.Write(path, new float[6], [2, 3]);
        var good = File.ReadAllBytes(path);

        File.WriteAllBytes(path, good[..^4]);
        Assert.That(Fails(path).Message, Does.Contain("needs 24 data bytes, the file holds 20 (truncated)"));
        File.WriteAllBytes(path, [.. good, 0]);
        Assert.That(Fails(path).Message, Does.Contain("the file holds 25 (trailing bytes)"));
        File.WriteAllBytes(path, good[..9]);
        Assert.That(Fails(path).Message, Does.Contain("too short"));
        var bad = (byte[])good.Clone();
        bad[1] = (byte)'X';
        File.WriteAllBytes(path, bad);
        Assert.That(Fails(path).Message, Does.Contain("magic"));
        bad = (byte[])good.Clone();
        bad[6] = 4;
        File.WriteAllBytes(path, bad);
        Assert.That(Fails(path).Message, Does.Contain("version 4.0"));
        bad = (byte[])good.Clone();
        bad[7] = 1;
        File.WriteAllBytes(path, bad);
        Assert.That(Fails(path).Message, Does.Contain("version 1.1"));
        bad = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(bad.AsSpan(8), 60000);
        File.WriteAllBytes(path, bad);
        Assert.That(Fails(path).Message, Does.Contain("header length 60000 runs past the end"));
        File.WriteAllBytes(path, good[..11].Select((b, i) => i == 6 ? (byte)2 : b).ToArray());
        Assert.That(Fails(path).Message, Does.Contain("too short for the version 2.0 preamble"));

        Assert.That(Fails(Hand("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\xff", F32(1), major: 3)).Message, Does.Contain("not valid UTF-8"));
        // Version 3.0 headers are UTF-8, 1.0 and 2.0 headers latin-1.
        Assert.That(Fails(Hand("{'descr': 'é', 'fortran_order': False, 'shape': (1,), }", F32(1), major: 3, Encoding.UTF8)).Message, Does.Contain("dtype 'é' is not supported"));
        Assert.That(Fails(Hand("{'descr': 'é', 'fortran_order': False, 'shape': (1,), }", F32(1), major: 2, Encoding.UTF8)).Message, Does.Contain("dtype 'Ã©' is not supported"));
        Assert.Throws<FileNotFoundException>(() => Npy.Read(P("missing.npy")));
    }

    [Test]
    public void WriteChecksItsArguments()
    {
        Assert.Throws<ArgumentException>(() => Npy.Write(P("a.npy"), new float[5], [2, 3]));
        Assert.Throws<ArgumentException>(() => Npy.Write(P("a.npy"), Array.Empty<long>(), [-1, 0]));
        Assert.Throws<ArgumentException>(() => Npy.Write(P("a.npy"), new float[1], [65536, 65536, 65536, 65536, 65536]));
        Assert.Throws<DirectoryNotFoundException>(() => Npy.Write(P("nowhere/a.npy"), new float[1], [1]));
        Assert.That(Directory.GetFiles(_dir), Is.Empty, "nothing written, no temporary files left");
    }

    private const string Structural = "{}(),:'0123456789 <>|fiub";

    /// <summary>Random byte changes and truncations of a valid file either read or fail with ModelFormatException, never anything else.</summary>
    [Test]
    public void FuzzedFilesFailOnlyWithModelFormatException()
    {
        var valid = P("valid.npy");
        Npy.Write(valid, [1f, 2f, 3f, 4f, 5f, 6f], [2, 3]);
        var original = File.ReadAllBytes(valid);
        var rng = new Random(4321);
        int rejected = 0;
        for (int iter = 0; iter < 400; iter++)
        {
            var bytes = (byte[])original.Clone();
            if (iter % 5 == 0) bytes = bytes[..rng.Next(bytes.Length)];
            else
                for (int k = rng.Next(1, 4); k > 0; k--)
                    bytes[rng.Next(iter % 5 == 1 ? bytes.Length : 128)] = iter % 2 == 0 ? (byte)rng.Next(256) : (byte)Structural[rng.Next(Structural.Length)];
            var path = P($"fuzz{iter}.npy");
            File.WriteAllBytes(path, bytes);
            try
            {
                Npy.Read(path);
            }
            catch (ModelFormatException)
            {
                rejected++;
            }
            File.Delete(path);
        }
        Assert.That(rejected, Is.GreaterThan(200), "most mutations must be caught");
    }

    [Test]
    public void TensorFilesRoundTripThroughABackend()
    {
        var b = TestBackends.Cpu;
        var path = P("t.npy");
        using (var t = b.Upload(TestData.Normal(12, 2), new Shape(3, 4)))
        {
            TensorFiles.SaveNpy(path, t);
            using var u = TensorFiles.LoadNpy(b, path);
            Assert.That((u.Shape, u.DType), Is.EqualTo((t.Shape, DType.Float32)));
            Close.Identical(t.ToArray(), u.ToArray());
        }
        using (var t = b.Upload(new long[] { 5, -6, long.MaxValue }, new Shape(3)))
        {
            TensorFiles.SaveNpy(path, t);
            using var u = TensorFiles.LoadNpy(b, path);
            Assert.That((u.Shape, u.DType), Is.EqualTo((t.Shape, DType.Int64)));
            Assert.That(u.ToInt64Array(), Is.EqualTo(new long[] { 5, -6, long.MaxValue }));
        }
        using (var scalar = TensorFiles.LoadNpy(b, Fixtures.Path("npy", "f32_scalar.npy")))
            Assert.That((scalar.Shape, scalar.ToArray()), Is.EqualTo((new Shape(1), new[] { 7.5f })));
        using (var labels = TensorFiles.LoadNpy(b, Fixtures.Path("npy", "i32_3.npy")))
            Assert.That(labels.DType, Is.EqualTo(DType.Int64));
        var e = Assert.Throws<ModelFormatException>(() => TensorFiles.LoadNpy(b, Fixtures.Path("npy", "f32_empty_0x3.npy")))!;
        Assert.That(e.Message, Does.Contain("f32_empty_0x3.npy").And.Contain("no elements"));
    }
}
