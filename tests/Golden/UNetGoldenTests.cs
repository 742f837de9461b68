using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Golden;

/// <summary>
/// Whole U-Net forward passes against PyTorch (tools/fixtures/make_unet_fixtures.py: a re-implementation of
/// diffusers' UNet2DModel with random weights). 1e-4 relative to the largest output magnitude: a forward pass
/// chains ~40 layers of float32 sums of up to ~3000 terms, and GroupNorm amplifies earlier rounding.
/// </summary>
public class UNetGoldenTests
{
    private const double Tol = 1e-4;

    public static readonly string[] Models = ["tiny_ddpm", "film_classes_f16", "resnet_resample_bf16", "fourier_gelu"];

    [TestCaseSource(nameof(Models))]
    public void MatchesPyTorchOnCpu(string name) => Check(TestBackends.Cpu, name);

    /// <summary>The emulated GPU kernels are slow, so only the smallest model runs there.</summary>
    [Test]
    public void MatchesPyTorchOnIlgpuCpu() => Check(TestBackends.IlgpuCpu, "fourier_gelu");

    [Category("Gpu")]
    [TestCaseSource(nameof(Models))]
    public void MatchesPyTorchOnCuda(string name) => Check(TestBackends.Cuda, name);

    private static void Check(Backend backend, string name)
    {
        var dir = Fixtures.Path("unet", name);
        using var io = new FixtureFile("unet", name, "io.safetensors");
        using var unet = UNet2DModel.Load(dir, backend);
        var shape = io.ShapeOf("x");
        using var plan = unet.Compile(shape[0], shape[2], shape[3]);
        using var x = io.Upload(backend, "x");
        var labels = io.Has("labels") ? io.Longs("labels") : [];
        var y = plan.Forward(x, io.Floats("t"), labels);
        Close.Assert(io.Floats("y"), y.ToArray(), Tol, name);
    }

    [Test]
    public void ReplayingThePlanGivesTheSameResult()
    {
        var b = TestBackends.Cpu;
        using var io = new FixtureFile("unet", "tiny_ddpm", "io.safetensors");
        using var unet = UNet2DModel.Load(Fixtures.Path("unet", "tiny_ddpm"), b);
        using var plan = unet.Compile(2, 16, 16);
        using var x = io.Upload(b, "x");
        var first = plan.Forward(x, io.Floats("t")).ToArray();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        plan.Run();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Close.Identical(first, plan.Output.ToArray(), "replay");
        // Kernels may allocate small task bookkeeping; activations (the arena) must not be allocated again.
        Assert.That(allocated, Is.LessThan(plan.ActivationBytes / 8), "a replayed plan must not allocate activations");
    }
}
