using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests;

public class DevicesTests
{
    [Test]
    public void CpuAndEmulatorAreAlwaysListed()
    {
        var names = Devices.List().Select(d => d.Name).ToList();
        Assert.That(names, Does.Contain("cpu"));
        Assert.That(names, Does.Contain("ilgpu-cpu"));
    }

    [Test]
    public void AutoPicksCpuWithoutCuda()
    {
        if (Devices.CudaDevices().Count > 0) Assert.Ignore("this machine has CUDA");
        Assert.That(Devices.ResolveAuto(), Is.EqualTo("cpu"));
        using var b = Devices.Create("auto");
        Assert.That(b, Is.InstanceOf<CpuBackend>());
    }

    [Test, Category(GpuTargets.Category)]
    public void AutoPicksCudaWhereThereIsOne()
    {
        var cuda = TestBackends.Cuda; // fails under DK_REQUIRE_CUDA=1 without a device, else ignored
        Assert.That(cuda.IsCuda, Is.True);
        Assert.That(Devices.ResolveAuto(), Is.EqualTo("cuda:0"));
        Assert.That(Devices.CudaDevices()[0].Kind, Is.EqualTo("cuda"));
    }

    [TestCase("cuda")]
    [TestCase("cuda:0")]
    [TestCase("CUDA:3")]
    public void CudaWithoutADeviceIsAClearError(string name)
    {
        if (Devices.CudaDevices().Count > 0) Assert.Ignore("this machine has CUDA");
        var e = Assert.Throws<DeviceNotAvailableException>(() => Devices.Create(name).Dispose())!;
        Assert.That(e.Message, Does.Contain("cuda").IgnoreCase);
        Assert.That(e.Message, Does.Contain("--device cpu").Or.Contains("CUDA device"));
    }

    [TestCase("gpu")]
    [TestCase("cuda:x")]
    [TestCase("")]
    public void UnknownDeviceNamesAreRejected(string name)
    {
        var e = Assert.Throws<DeviceNotAvailableException>(() => Devices.Create(name).Dispose())!;
        Assert.That(e.Message, Does.Contain("device"));
    }

    [Test]
    public void EmulatorReportsGpuLikeGroups()
    {
        var d = TestBackends.IlgpuCpu.Device;
        Assert.That(d.WarpSize, Is.EqualTo(32));
        Assert.That(TestBackends.IlgpuCpu.Accelerator.MaxNumThreadsPerGroup, Is.GreaterThanOrEqualTo(256));
    }
}
