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
        plan.Run();
        Close.Identical(first, plan.Output.ToArray(), "replay");
    }

    /// <summary>
    /// Kernels allocate a little task bookkeeping per launch (Parallel.For), but a replayed plan must not allocate
    /// activations: what a run allocates stays the same when the activations grow 8×, and is far below them.
    /// </summary>
    [Test]
    public void ReplayAllocationsDoNotGrowWithTheActivations()
    {
        var b = TestBackends.Cpu;
        using var unet = UNet2DModel.Load(Fixtures.Path("unet", "tiny_ddpm"), b);
        long Allocated(UNetPlan plan)
        {
            plan.SetTimesteps([10f]);
            // Warm up until every pool thread that runs a kernel has its per-thread scratch.
            for (int i = 0; i < 4; i++) plan.Run();
            // The counter is process-wide: on a loaded machine the thread pool injects threads and other work
            // allocates too. That noise only adds, so the least of three rounds is the plan's own figure.
            long least = long.MaxValue;
            for (int round = 0; round < 3; round++)
            {
                long before = GC.GetTotalAllocatedBytes(precise: true);
                for (int i = 0; i < 5; i++) plan.Run();
                least = Math.Min(least, (GC.GetTotalAllocatedBytes(precise: true) - before) / 5);
            }
            return least;
        }
        using var small = unet.Compile(1, 16, 16);
        using var large = unet.Compile(2, 32, 32);
        Assert.That(large.ActivationBytes, Is.GreaterThan(6 * small.ActivationBytes));
        long a = Allocated(small), c = Allocated(large);
        Assert.That(c, Is.LessThan(large.ActivationBytes / 4), "allocations per run must be far below the activations");
        Assert.That(c, Is.LessThan(2 * a + 256 * 1024), "allocations per run must not grow with the activations");
    }
}
