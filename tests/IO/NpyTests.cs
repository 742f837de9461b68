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

    [Test]
    public void RoundTripsFloatAndInt64()
    {
        var path = Path.Combine(_dir, "x.npy");
        var data = TestData.Normal(2 * 3 * 5, 1);
        Npy.Write(path, data, [2, 3, 5]);
        var a = Npy.Read(path);
        Assert.That(a.Shape, Is.EqualTo(new[] { 2, 3, 5 }));
        Assert.That(a.Floats, Is.EqualTo(data));
        Npy.Write(path, new long[] { 3, -9 }, [2]);
        Assert.That(Npy.Read(path).Longs, Is.EqualTo(new long[] { 3, -9 }));
    }

    /// <summary>Files written by numpy itself (tools/fixtures/make_npy_fixtures.py).</summary>
    [Test]
    public void ReadsFilesWrittenByNumpy()
    {
        var f32 = Npy.Read(Fixtures.Path("npy", "f32_2x3.npy"));
        Assert.That(f32.Shape, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(f32.Floats, Is.EqualTo(new[] { 0f, 0.5f, 1f, 1.5f, 2f, 2.5f }));
        var f64 = Npy.Read(Fixtures.Path("npy", "f64_4.npy"));
        Assert.That(f64.Floats, Is.EqualTo(new[] { 1f, -2f, 3.25f, 1e-3f }));
        var i64 = Npy.Read(Fixtures.Path("npy", "i64_3.npy"));
        Assert.That(i64.Longs, Is.EqualTo(new long[] { 0, 999, -5 }));
        var scalar = Npy.Read(Fixtures.Path("npy", "f32_scalar.npy"));
        Assert.That(scalar.Shape, Is.Empty);
        Assert.That(scalar.Floats, Is.EqualTo(new[] { 7.5f }));
        var v2 = Npy.Read(Fixtures.Path("npy", "f32_v2.npy"));
        Assert.That(v2.Floats, Is.EqualTo(new[] { 1f, 2f }));
        var mask = Npy.Read(Fixtures.Path("npy", "bool_2x2.npy"));
        Assert.That(mask.Floats, Is.EqualTo(new[] { 1f, 0f, 0f, 1f }));
    }

    [Test]
    public void FortranOrderAndBadFilesAreRejected()
    {
        var e = Assert.Throws<ModelFormatException>(() => Npy.Read(Fixtures.Path("npy", "f32_fortran.npy")))!;
        Assert.That(e.Message, Does.Contain("Fortran").And.Contain("f32_fortran.npy"));
        var bad = Path.Combine(_dir, "bad.npy");
        File.WriteAllBytes(bad, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        Assert.That(Assert.Throws<ModelFormatException>(() => Npy.Read(bad))!.Message, Does.Contain("magic"));
        var path = Path.Combine(_dir, "t.npy");
        Npy.Write(path, new float[6], [2, 3]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]);
        Assert.That(Assert.Throws<ModelFormatException>(() => Npy.Read(path))!.Message, Does.Contain("data bytes"));
        Assert.Throws<FileNotFoundException>(() => Npy.Read(Path.Combine(_dir, "missing.npy")));
    }

    [Test]
    public void TensorFilesRoundTripThroughABackend()
    {
        var b = TestBackends.Cpu;
        var path = Path.Combine(_dir, "t.npy");
        using var t = b.Upload(TestData.Normal(12, 2), new Shape(3, 4));
        TensorFiles.SaveNpy(path, t);
        using var u = TensorFiles.LoadNpy(b, path);
        Assert.That(u.Shape, Is.EqualTo(t.Shape));
        Close.Identical(t.ToArray(), u.ToArray());
    }
}
