using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Tests.Plan;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Models;

/// <summary>The resnets' time projections stacked into one GEMM give the forward pass of one Linear per block.</summary>
public class FusedTimeProjectionTests
{
    private static readonly string[] Configs = [TinyTopologies.TwoLevels, TinyTopologies.ThreeLevelsOdd];

    private static float[] Forward(UNet2DModel net, bool fused, int batch)
    {
        using var plan = net.Compile(batch, 8, 8, fuseTimeProjections: fused);
        using var sample = net.Backend.Upload(TestData.Normal(plan.Sample.Length, 11), plan.Sample.Shape);
        // Distinct timesteps per sample: each row of the stacked projection differs, so a wrong row stride shows.
        float[] timesteps = [.. Enumerable.Range(0, batch).Select(i => 37f + 400f * i)];
        var output = plan.Forward(sample, timesteps).ToArray();
        Assert.That(output.All(float.IsFinite), "non-finite output");
        return output;
    }

    [TestCaseSource(nameof(Configs))]
    public void CpuFusedEqualsUnfusedBitForBit(string json)
    {
        // Each stacked output element is the same K-long dot product, in the same order, as the block's own Linear.
        using var net = UNet2DModel.CreateRandom(UNetConfig.Parse(json), TestBackends.Cpu, seed: 5);
        Close.Identical(Forward(net, fused: false, batch: 2), Forward(net, fused: true, batch: 2), "fused vs unfused");
    }

    [TestCaseSource(nameof(Configs))]
    public void IlgpuCpuFusedMatchesUnfused(string json)
    {
        // The GEMM kernel may pick another tiling for the wider N, so the sums may round differently: fp32, 1e-5.
        using var net = UNet2DModel.CreateRandom(UNetConfig.Parse(json), TestBackends.IlgpuCpu, seed: 5);
        Close.Assert(Forward(net, fused: false, batch: 2), Forward(net, fused: true, batch: 2), 1e-5, "ilgpu-cpu fused vs unfused");
    }

    [Test]
    public void ScaleShiftModelsKeepOneProjectionPerBlock()
    {
        var json = TinyTopologies.TwoLevels.Replace("\"norm_num_groups\"", "\"resnet_time_scale_shift\": \"scale_shift\", \"norm_num_groups\"", StringComparison.Ordinal);
        using var net = UNet2DModel.CreateRandom(UNetConfig.Parse(json), TestBackends.Cpu, seed: 6);
        using var fused = net.Compile(1, 8, 8, fuseTimeProjections: true);
        using var unfused = net.Compile(1, 8, 8, fuseTimeProjections: false);
        Assert.That(fused.LaunchCount, Is.EqualTo(unfused.LaunchCount));
        Assert.That(fused.LaunchesPerStep().Count(s => s.Step.EndsWith("time_emb_proj", StringComparison.Ordinal)), Is.EqualTo(TinyTopologies.Resnets(net.Config)));
    }

    [Test]
    public void SliceOutsideTheBiasIsRefused()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(2, 3, 4, 4);
        using var bias = b.Allocate(2, 5);
        var e = Assert.Throws<ShapeMismatchException>(() => b.AddChannelBias(x, bias, 3, x))!;
        Assert.That(e.Message, Does.Contain("add channel bias").And.Contain("[3, 6)"));
    }
}
