using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Runtime.Plan;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Plan;

/// <summary>Activation arenas past 2³¹ elements (large images): 64-bit offsets, or a clear error naming the size.</summary>
public class LargeArenaTests
{
    // Convolutions only (no attention, whose cost grows with the square of the pixels): the arena grows with H·W.
    private const string ConvOnly = """
        {"_class_name": "UNet2DModel", "act_fn": "silu", "block_out_channels": [32, 32], "add_attention": false,
         "down_block_types": ["DownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "UpBlock2D"],
         "in_channels": 1, "out_channels": 1, "layers_per_block": 1, "norm_num_groups": 8, "sample_size": 64}
        """;

    /// <summary>The smallest square size (a multiple of 64) whose arena exceeds <paramref name="elements"/>, from the arena at 64×64.</summary>
    private static int SizeWithArenaAbove(long elements)
    {
        using var unet = UNet2DModel.CreateRandom(UNetConfig.Parse(ConvOnly, "conv-only"), TestBackends.Cpu);
        using var small = unet.Compile(1, 64, 64);
        double perPixel = small.ActivationBytes / 4.0 / (64 * 64);
        return (int)Math.Ceiling(Math.Sqrt(elements / perPixel) / 64) * 64;
    }

    [Test]
    public void ArenaShapeHoldsSixtyFourBitSizes()
    {
        foreach (long n in new[] { 64L, int.MaxValue + 65L, 5_000_000_064L, (long)int.MaxValue * 64 })
        {
            var shape = PlanBuilder.ArenaShape(n);
            Assert.That(shape.Length, Is.GreaterThanOrEqualTo(n).And.LessThan(n + ArenaPlanner.Alignment), $"{n}");
        }
        Assert.Throws<OutOfMemoryException>(() => PlanBuilder.ArenaShape((long)int.MaxValue * 64 + 65));
    }

    [Test]
    public void AnArenaBeyondTheCpuArrayLimitIsAClearErrorNamingItsSize()
    {
        // Before 64-bit arenas this size wrapped around int and failed with "shape [-…] has a non-positive dimension".
        int size = SizeWithArenaAbove(Array.MaxLength + 1L);
        using var unet = UNet2DModel.CreateRandom(UNetConfig.Parse(ConvOnly, "conv-only"), TestBackends.Cpu);
        var e = Assert.Throws<OutOfMemoryException>(() => unet.Compile(1, size, size).Dispose())!;
        Assert.That(e.Message, Does.Contain("activation arena").And.Contain("GiB").And.Contain("cpu"), e.Message);
    }

    [Test, Category(GpuTargets.Category)]
    public void CudaRunsAPlanWhoseArenaExceedsTwoToThe31Elements()
    {
        var cuda = TestBackends.Cuda;
        int size = SizeWithArenaAbove(int.MaxValue + (1L << 26));
        using var unet = UNet2DModel.CreateRandom(UNetConfig.Parse(ConvOnly, "conv-only"), cuda);
        using var plan = unet.Compile(1, size, size);
        Assert.That(plan.ActivationBytes / 4, Is.GreaterThan((long)int.MaxValue), "the arena must pass 2³¹ elements");
        cuda.RandomNormal(plan.Sample, 3);
        plan.SetTimesteps([500f]);
        plan.Run();
        var y = plan.Output.ToArray();
        Assert.That(y.All(float.IsFinite), "finite output");
        double mean = y.Average(v => (double)v), variance = y.Average(v => (v - mean) * (v - mean));
        Assert.That(variance, Is.GreaterThan(0), "not a constant output");
    }
}
