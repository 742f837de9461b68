using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests;

public class TensorTests
{

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void UploadDownloadRoundTrips(string device)
    {
        var b = TestBackends.Get(device);
        var data = TestData.Normal(3 * 5 * 7, 1);
        using var t = b.Upload(data, new Shape(3, 5, 7));
        Close.Identical(data, t.ToArray(), "round trip");
        using var l = b.Upload(new long[] { 1, -2, long.MaxValue }, new Shape(3));
        Assert.That(l.ToInt64Array(), Is.EqualTo(new long[] { 1, -2, long.MaxValue }));
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void AllocateIsZeroAndFillCopyWork(string device)
    {
        var b = TestBackends.Get(device);
        using var t = b.Allocate(2, 3);
        Assert.That(t.ToArray(), Is.All.EqualTo(0f));
        b.Fill(t, 2.5f);
        Assert.That(t.ToArray(), Is.All.EqualTo(2.5f));
        using var u = b.Allocate(6);
        b.Copy(t, u);
        Assert.That(u.ToArray(), Is.All.EqualTo(2.5f));
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void ViewsAndSlicesShareStorage(string device)
    {
        var b = TestBackends.Get(device);
        var data = Enumerable.Range(0, 24).Select(i => (float)i).ToArray();
        using var t = b.Upload(data, new Shape(4, 6));
        var s = t.Slice0(1, 2);
        Assert.That(s.ToArray(), Is.EqualTo(data[6..18]));
        b.Fill(s, -1f);
        Assert.That(t.ToArray()[5], Is.EqualTo(5f));
        Assert.That(t.ToArray()[6], Is.EqualTo(-1f));
        Assert.That(t.Reshape(2, 12).Shape, Is.EqualTo(new Shape(2, 12)));
    }

    [Test]
    public void ShapeErrorsNameTheOpAndBothShapes()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(1, 3, 7, 5);
        using var y = b.Allocate(1, 3, 7, 6);
        var e = Assert.Throws<ShapeMismatchException>(() => b.Add(x, y, y))!;
        Assert.That(e.Message, Does.Contain("axpby").And.Contain("[1,3,7,5]").And.Contain("[1,3,7,6]"));
        Assert.Throws<ShapeMismatchException>(() => x.Reshape(4, 4));
        Assert.Throws<ArgumentException>(() => _ = new Shape(2, 0));
    }

    [Test]
    public void WrongDTypeIsRejected()
    {
        var b = TestBackends.Cpu;
        using var labels = b.Upload(new long[] { 1, 2 }, new Shape(2));
        using var y = b.Allocate(2);
        var e = Assert.Throws<DTypeMismatchException>(() => b.Clamp(labels, 0, 1, y))!;
        Assert.That(e.Message, Does.Contain("clamp").And.Contain("Int64"));
        Assert.Throws<DTypeMismatchException>(() => b.CopyFromHost(new float[2], labels));
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void StagedUploadsStayInOrderAcrossRingWraps(string device)
    {
        // Small uploads go through the page-locked ring without waiting for the stream. 3000 uploads of 100 floats
        // (a 512-byte slot each) wrap the 1 MiB ring; each is consumed by a queued kernel before the next overwrites
        // the same tensor, so any upload landing out of order, or a slot reused too early, changes the sum.
        var b = TestBackends.Ilgpu(device);
        using var t = b.Allocate(100);
        using var acc = b.Allocate(100);
        using var labels = b.Allocate(new Shape(3), DType.Int64);
        int wrapsBefore = b.StagingWraps;
        var expected = new double[100];
        var host = new float[100];
        for (int i = 0; i < 3000; i++)
        {
            for (int j = 0; j < 100; j++) host[j] = (i % 7) + j * 0.5f;
            b.CopyFromHost(host, t);
            Array.Clear(host); // the backend must have copied the span before returning
            b.Axpby(1f, acc, 1f, t, acc);
            for (int j = 0; j < 100; j++) expected[j] += (i % 7) + j * 0.5f;
            if (i % 500 == 0) b.CopyFromHost([i, -i, long.MaxValue], labels);
        }
        Assert.That(b.StagingWraps, Is.GreaterThan(wrapsBefore), "the ring wrapped");
        Assert.That(acc.ToArray(), Is.EqualTo(expected.Select(v => (float)v).ToArray()).Within(1e-3f));
        Assert.That(labels.ToInt64Array(), Is.EqualTo(new long[] { 2500, -2500, long.MaxValue }));
        var big = TestData.Normal(200_000, 3); // 800 KB: more than a staged upload takes, copied synchronously
        using var large = b.Upload(big, new Shape(big.Length));
        Close.Identical(big, large.ToArray(), "large upload");
    }

    [Test]
    public void TensorsFromAnotherBackendAreRejected()
    {
        using var x = TestBackends.Cpu.Allocate(4);
        using var y = TestBackends.IlgpuCpu.Allocate(4);
        var e = Assert.Throws<ArgumentException>(() => TestBackends.Cpu.Copy(x, y))!;
        Assert.That(e.Message, Does.Contain("ilgpu-cpu"));
    }

    [Test]
    public void DisposedTensorsAreRejected()
    {
        var b = TestBackends.Cpu;
        var x = b.Allocate(4);
        x.Dispose();
        Assert.Throws<ObjectDisposedException>(() => b.Fill(x, 1f));
    }
}
