using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Reliability;

/// <summary>Use after dispose is an <see cref="ObjectDisposedException"/> naming the object, never an out-of-memory error.</summary>
public class DisposalTests
{
    private string _dir = "";

    [SetUp]
    public void MakeModel() => _dir = TinyModel.Write(Path.Combine(Directory.CreateTempSubdirectory("dk-dispose-").FullName, "model"));

    [TearDown]
    public void Remove() => Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true);

    [Test]
    public void ADisposedBackendRefusesEveryCall()
    {
        foreach (var backend in new Backend[] { new CpuBackend(), IlgpuBackend.CreateCpuEmulator() })
        {
            var t = backend.Allocate(4);
            backend.Dispose();
            backend.Dispose();
            Assert.That(() => backend.Allocate(4), Throws.TypeOf<ObjectDisposedException>().With.Message.Contains(backend.Name).And.Message.Contains("disposed"));
            Assert.That(() => backend.Fill(t, 1f), Throws.TypeOf<ObjectDisposedException>().With.Message.Contains(backend.Name));
        }
    }

    [Test]
    public void ADisposedTensorIsNamed()
    {
        var b = TestBackends.Cpu;
        var t = b.Allocate(2, 3);
        t.Dispose();
        Assert.That(() => t.ToArray(), Throws.TypeOf<ObjectDisposedException>().With.Message.Contains("[2,3]"));
        Assert.That(() => b.Scale(t, 2f, t), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void ADisposedModelPlanAndSamplingModelAreNamed()
    {
        var unet = UNet2DModel.Load(_dir, TestBackends.Cpu);
        var plan = unet.Compile(1, 8, 8);
        plan.Dispose();
        Assert.That(() => plan.Run(), Throws.TypeOf<ObjectDisposedException>().With.Message.Contains("plan"));
        var live = unet.Compile(1, 8, 8);
        unet.Dispose();
        Assert.That(() => unet.Compile(1, 8, 8), Throws.TypeOf<ObjectDisposedException>().With.Property("ObjectName").EqualTo(nameof(UNet2DModel)));
        Assert.That(() => live.SetTimesteps([1f]), Throws.TypeOf<ObjectDisposedException>().With.Message.Contains("model"));
        live.Dispose();

        var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 1);
        model.Dispose();
        model.Dispose();
        Assert.That(() => model.Sigmas("karras", 3), Throws.TypeOf<ObjectDisposedException>().With.Message.Contains(_dir));
        Assert.That(() => SampleRunner.Draw(model, SamplerRegistry.Get("euler"), [1.0, 0.0], 1, new SamplerOptions()),
            Throws.TypeOf<ObjectDisposedException>().With.Message.Contains(_dir));
    }

    [Test]
    public void ADisposedReaderNamesItsFile()
    {
        var path = Path.Combine(_dir, ModelFiles.WeightsFile);
        var reader = SafetensorsReader.Open(path);
        var name = reader.Tensors[0].Name;
        reader.Dispose();
        Assert.That(() => reader.ReadFloat32(name), Throws.TypeOf<ObjectDisposedException>().With.Message.Contains(path));
    }
}
