using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Tests.Plan;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Models;

/// <summary>Each resnet's time-embedding bias added in conv1's epilogue gives the forward pass of a conv and an add.</summary>
public class TimeBiasInConvTests
{
    private static readonly string[] Configs = [TinyTopologies.TwoLevels, TinyTopologies.ThreeLevelsOdd];

    private static float[] Forward(UNet2DModel net, UNetFusions fusions, int batch)
    {
        using var plan = net.Compile(batch, 8, 8, fusions);
        using var sample = net.Backend.Upload(TestData.Normal(plan.Sample.Length, 13), plan.Sample.Shape);
        // Distinct timesteps per sample: a bias row read for the wrong sample shows.
        float[] timesteps = [.. Enumerable.Range(0, batch).Select(i => 11f + 450f * i)];
        var output = plan.Forward(sample, timesteps).ToArray();
        Assert.That(output.All(float.IsFinite), "non-finite output");
        return output;
    }

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var json in Configs)
            foreach (bool stacked in new[] { false, true })
                yield return new TestCaseData(json, stacked).SetName($"{{m}}({(json == TinyTopologies.TwoLevels ? "TwoLevels" : "ThreeLevelsOdd")}, stacked projections: {stacked})");
    }

    [TestCaseSource(nameof(Cases))]
    public void CpuFusedEqualsUnfusedBitForBit(string json, bool stacked)
    {
        // The CPU backend adds the bias after the conv inside the same op, in the add's order: the same bits.
        using var net = UNet2DModel.CreateRandom(UNetConfig.Parse(json), TestBackends.Cpu, seed: 7);
        var on = UNetFusions.None with { TimeProjections = stacked, TimeBiasInConv = true };
        Close.Identical(Forward(net, on with { TimeBiasInConv = false }, batch: 3), Forward(net, on, batch: 3), "fused vs unfused");
    }

    // The emulator's bit-for-bit check of this fusion runs with the others (ConvAndAttentionFusionTests): a tiny
    // forward there takes most of a minute.

    [Test]
    public void IlgpuCpuMatchesTheCpuBackend()
    {
        // Whole tiny forwards: fp32 sums of ≤ 9·30 products per conv in another order on each backend, through ~30
        // layers with GroupNorms in between; 1e-4 of the largest output, the golden U-Net tolerance.
        var config = UNetConfig.Parse(TinyTopologies.ThreeLevelsOdd);
        using var cpu = UNet2DModel.CreateRandom(config, TestBackends.Cpu, seed: 8);
        using var gpu = UNet2DModel.CreateRandom(config, TestBackends.IlgpuCpu, seed: 8);
        Close.Assert(Forward(cpu, UNetFusions.All, batch: 2), Forward(gpu, UNetFusions.All, batch: 2), 1e-4, "ilgpu-cpu vs cpu, all fusions");
    }

    [Test]
    public void ScaleShiftModelsKeepTheFilmStep()
    {
        // FiLM scales after norm2, so its projection cannot be a conv bias: the plan is the same either way.
        var json = TinyTopologies.TwoLevels.Replace("\"norm_num_groups\"", "\"resnet_time_scale_shift\": \"scale_shift\", \"norm_num_groups\"", StringComparison.Ordinal);
        using var net = UNet2DModel.CreateRandom(UNetConfig.Parse(json), TestBackends.Cpu, seed: 6);
        using var fused = net.Compile(1, 8, 8, UNetFusions.All);
        using var unfused = net.Compile(1, 8, 8, UNetFusions.All with { TimeBiasInConv = false });
        Assert.That(fused.LaunchesPerStep().Select(s => s.Step), Is.EqualTo(unfused.LaunchesPerStep().Select(s => s.Step)));
        Assert.That(fused.LaunchesPerStep().Count(s => s.Step.EndsWith(".film", StringComparison.Ordinal)), Is.EqualTo(TinyTopologies.Resnets(net.Config)));
    }
}
