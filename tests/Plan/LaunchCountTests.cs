using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Runtime.Plan;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Plan;

/// <summary>Kernel launches per forward, counted at the launch sites, against what the topology implies.</summary>
public class LaunchCountTests
{
    private static readonly string[] Configs = [TinyTopologies.TwoLevels, TinyTopologies.ThreeLevelsOdd];

    [TestCaseSource(nameof(Configs))]
    public void IlgpuLaunchesFollowTheTopology(string json)
    {
        var config = UNetConfig.Parse(json);
        using var net = UNet2DModel.CreateRandom(config, TestBackends.IlgpuCpu, seed: 3);
        foreach (bool fused in new[] { false, true })
        {
            using var plan = net.Compile(1, 8, 8, fuseTimeProjections: fused);
            plan.SetTimesteps([10f]);
            var steps = plan.LaunchesPerStep();
            Assert.That(steps.Sum(s => s.Launches), Is.EqualTo(TinyTopologies.ExpectedLaunches(config, fused)), $"fused: {fused}");
            // The output copy is a device copy: a step, but no kernel.
            Assert.That(steps.Single(s => s.Step == "output").Launches, Is.Zero);
            var projections = StepKind.Totals(steps).Single(k => k.Kind == "time_emb_proj").Launches;
            Assert.That(projections, Is.EqualTo(fused ? 1 : TinyTopologies.Resnets(config)));
        }
    }

    [Test]
    public void FusionSavesOneLaunchPerResnetButOne()
    {
        var config = UNetConfig.Parse(TinyTopologies.ThreeLevelsOdd);
        using var net = UNet2DModel.CreateRandom(config, TestBackends.IlgpuCpu, seed: 4);
        using var unfused = net.Compile(1, 8, 8, fuseTimeProjections: false);
        using var fused = net.Compile(1, 8, 8, fuseTimeProjections: true);
        unfused.SetTimesteps([10f]);
        fused.SetTimesteps([10f]);
        // Each unfused projection is one GEMM with its bias in the epilogue: one launch.
        int perProjection = unfused.LaunchesPerStep().Where(s => s.Step.EndsWith(".time_emb_proj", StringComparison.Ordinal)).Max(s => s.Launches);
        Assert.That(perProjection, Is.EqualTo(1));
        int saved = unfused.LaunchesPerStep().Sum(s => s.Launches) - fused.LaunchesPerStep().Sum(s => s.Launches);
        Assert.That(saved, Is.EqualTo((TinyTopologies.Resnets(config) - 1) * perProjection));
    }

    [Test]
    public void CpuCountsOneLaunchPerOpCall()
    {
        using var net = UNet2DModel.CreateRandom(UNetConfig.Parse(TinyTopologies.TwoLevels), TestBackends.Cpu, seed: 3);
        using var plan = net.Compile(1, 8, 8);
        Assert.That(plan.LaunchesPerStep().Sum(s => s.Launches), Is.EqualTo(plan.LaunchCount));
        Assert.That(plan.LaunchesPerStep().All(s => s.Launches == 1));
    }

    [Test]
    public void StepKindsDropTheLayerPathAndIndex()
    {
        Assert.That(StepKind.Of("down_blocks.0.resnets.1.conv1"), Is.EqualTo("conv"));
        Assert.That(StepKind.Of("up_blocks.2.cat0"), Is.EqualTo("cat"));
        Assert.That(StepKind.Of("time_emb_proj"), Is.EqualTo("time_emb_proj"));
        Assert.That(StepKind.Of("mid_block.attentions.0.to_out.0"), Is.EqualTo("to_out"));
        Assert.That(StepKind.Of("time_embedding.linear_2"), Is.EqualTo("linear"));
        var totals = StepKind.Totals([("a.conv1", 1), ("b.conv2", 1), ("a.norm1", 2), ("output", 0)]);
        Assert.That(totals, Is.EqualTo(new[] { ("conv", 2), ("norm", 2), ("output", 0) }));
    }
}
