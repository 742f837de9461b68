using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Runtime.Plan;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Plan;

/// <summary>Kernel launches per forward, counted at the launch sites, against what the topology implies.</summary>
public class LaunchCountTests
{
    private static readonly string[] Configs = [TinyTopologies.TwoLevels, TinyTopologies.ThreeLevelsOdd];

    /// <summary>Every fusion off, each one alone, and all on: each must count what the topology implies.</summary>
    private static readonly UNetFusions[] FusionSets =
    [
        UNetFusions.None,
        UNetFusions.None with { TimeProjections = true },
        UNetFusions.None with { TimeBiasInConv = true },
        UNetFusions.None with { UpsampleInConv = true },
        UNetFusions.None with { StackedQkv = true },
        UNetFusions.None with { OutProjectionToNchw = true },
        UNetFusions.None with { NormToTokens = true },
        UNetFusions.None with { ConcatInReaders = true },
        UNetFusions.All,
    ];

    [TestCaseSource(nameof(Configs))]
    public void IlgpuLaunchesFollowTheTopology(string json)
    {
        // All off and all on run on the emulator (each step's kernels counted as it runs); each fusion alone is
        // checked step by step on the CPU backend below.
        var config = UNetConfig.Parse(json);
        using var net = UNet2DModel.CreateRandom(config, TestBackends.IlgpuCpu, seed: 3);
        foreach (var fusions in new[] { UNetFusions.None, UNetFusions.All })
        {
            using var plan = net.Compile(1, 8, 8, fusions);
            plan.SetTimesteps([10f]);
            var steps = plan.LaunchesPerStep();
            Assert.That(steps.Sum(s => s.Launches), Is.EqualTo(TinyTopologies.ExpectedLaunches(config, fusions)), $"{fusions}");
            // The output copy is a device copy: a step, but no kernel.
            Assert.That(steps.Single(s => s.Step == "output").Launches, Is.Zero);
            Assert.That(steps.Where(s => s.Step != "output").All(s => s.Launches == 1), $"{fusions}: one kernel per step");
            AssertKinds(config, fusions, steps);
        }
    }

    [TestCaseSource(nameof(Configs))]
    public void CpuStepsFollowTheTopologyForEachFusion(string json)
    {
        var config = UNetConfig.Parse(json);
        using var net = UNet2DModel.CreateRandom(config, TestBackends.Cpu, seed: 3);
        foreach (var fusions in FusionSets)
        {
            using var plan = net.Compile(1, 8, 8, fusions);
            var steps = plan.LaunchesPerStep();
            // One step per kernel, and the output copy (a kernel-less device copy on ILGPU).
            Assert.That(steps.Sum(s => s.Launches), Is.EqualTo(TinyTopologies.ExpectedLaunches(config, fusions) + 1), $"{fusions}");
            AssertKinds(config, fusions, steps);
        }
    }

    private static void AssertKinds(UNetConfig config, UNetFusions fusions, IReadOnlyList<(string Step, int Launches)> steps)
    {
        var kinds = StepKind.Totals(steps);
        int Kind(string kind) => kinds.SingleOrDefault(k => k.Kind == kind).Launches;
        Assert.That(Kind("time_emb_proj"), Is.EqualTo(fusions.TimeProjections ? 1 : TinyTopologies.Resnets(config)), $"{fusions}");
        Assert.That(Kind("add_temb"), Is.EqualTo(fusions.TimeBiasInConv ? 0 : TinyTopologies.Resnets(config)), $"{fusions}");
        Assert.That(Kind("nearest"), Is.EqualTo(fusions.UpsampleInConv ? 0 : config.BlockOutChannels.Length - 1), $"{fusions}");
        int attentions = TinyTopologies.Attentions(config);
        Assert.That(Kind("to_qkv"), Is.EqualTo(fusions.StackedQkv ? attentions : 0), $"{fusions}");
        Assert.That(Kind("to_q") + Kind("to_k") + Kind("to_v"), Is.EqualTo(fusions.StackedQkv ? 0 : 3 * attentions), $"{fusions}");
        Assert.That(Kind("out"), Is.EqualTo(fusions.OutProjectionToNchw ? 0 : attentions), $"{fusions}");
        Assert.That(Kind("to_out"), Is.EqualTo(attentions), $"{fusions}");
        Assert.That(Kind("tokens"), Is.EqualTo(fusions.NormToTokens ? 0 : attentions), $"{fusions}");
        // Every up-block resnet of these configs has a conv_shortcut (its input is wider than its output).
        Assert.That(Kind("cat"), Is.EqualTo(fusions.ConcatInReaders ? 0 : config.BlockOutChannels.Length * (config.LayersPerBlock + 1)), $"{fusions}");
    }

    /// <summary>
    /// The bundled model's and DDPM-CIFAR's steps per forward, counted on the CPU backend (one step per op, nothing run),
    /// against the same arithmetic: the tiny ILGPU cases above show that every step of these kinds is one kernel there
    /// but the output copy, so the ILGPU kernel count of a forward is these steps minus one (docs/gpu.md states both).
    /// </summary>
    [TestCase("phantom64", 139, 98)]
    [TestCase("ddpm-cifar10-32", 201, 140)]
    public void KnownModelsStepsFollowTheTopology(string model, int stepsWithProjectionsStacked, int stepsWithAllFusions)
    {
        var config = UNetConfig.Parse(model == "phantom64" ? File.ReadAllText(Path.Combine(global::DiffusionKernels.BundledModel.Find(), "config.json")) : KnownTopologies.ByName[model]);
        int size = config.SampleSize ?? 32;
        using var net = UNet2DModel.CreateRandom(config, TestBackends.Cpu, seed: 1);
        var before = UNetFusions.None with { TimeProjections = true };
        using (var plan = net.Compile(1, size, size, before))
        {
            Assert.That(plan.LaunchCount, Is.EqualTo(TinyTopologies.ExpectedLaunches(config, before) + 1));
            Assert.That(plan.LaunchCount, Is.EqualTo(stepsWithProjectionsStacked), "the count docs/gpu.md states before these fusions");
        }
        using (var plan = net.Compile(1, size, size, UNetFusions.All))
        {
            Assert.That(plan.LaunchCount, Is.EqualTo(TinyTopologies.ExpectedLaunches(config, UNetFusions.All) + 1));
            Assert.That(plan.LaunchCount, Is.EqualTo(stepsWithAllFusions), "the count docs/gpu.md states");
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
