using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Tests.Plan;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Models;

/// <summary>
/// The upsample read inside the upsampler's conv, the stacked q/k/v GEMM, the out-projection writing NCHW with its
/// residual and the skip concat read by norm1 and conv_shortcut give the forward pass of the steps they replace: each alone on the CPU backend, all together on the emulator.
/// </summary>
public class ConvAndAttentionFusionTests
{
    private static float[] Forward(UNet2DModel net, UNetFusions fusions)
    {
        using var plan = net.Compile(2, 8, 8, fusions);
        using var sample = net.Backend.Upload(TestData.Normal(plan.Sample.Length, 17), plan.Sample.Shape);
        var output = plan.Forward(sample, [23f, 610f]).ToArray();
        Assert.That(output.All(float.IsFinite), "non-finite output");
        return output;
    }

    private static IEnumerable<TestCaseData> CpuCases()
    {
        foreach (var (name, json) in new[] { ("TwoLevels", TinyTopologies.TwoLevels), ("ThreeLevelsOdd", TinyTopologies.ThreeLevelsOdd) })
        {
            yield return new TestCaseData(json, "upsample in conv").SetName($"{{m}}({name}, upsample in conv)");
            yield return new TestCaseData(json, "stacked qkv").SetName($"{{m}}({name}, stacked qkv)");
            yield return new TestCaseData(json, "out projection to nchw").SetName($"{{m}}({name}, out projection to nchw)");
            yield return new TestCaseData(json, "norm to tokens").SetName($"{{m}}({name}, norm to tokens)");
            yield return new TestCaseData(json, "concat in readers").SetName($"{{m}}({name}, concat in readers)");
        }
    }

    [TestCaseSource(nameof(CpuCases))]
    public void CpuFusionEqualsUnfusedBitForBit(string json, string name)
    {
        var fusion = name switch
        {
            "stacked qkv" => UNetFusions.None with { StackedQkv = true },
            "out projection to nchw" => UNetFusions.None with { OutProjectionToNchw = true },
            "norm to tokens" => UNetFusions.None with { NormToTokens = true },
            "concat in readers" => UNetFusions.None with { ConcatInReaders = true },
            _ => UNetFusions.None with { UpsampleInConv = true },
        };
        // On the CPU the upsample goes to scratch before the same conv, the stacked GEMM is the same Linears on
        // views, and norm1 and conv_shortcut read a concat's values from its two halves (ThreeLevelsOdd's groups
        // straddle the seam): the same bits.
        using var net = UNet2DModel.CreateRandom(UNetConfig.Parse(json), TestBackends.Cpu, seed: 9);
        Close.Identical(Forward(net, UNetFusions.None), Forward(net, fusion), $"{fusion}");
    }

    [Test]
    public void IlgpuCpuNewFusionsEqualUnfusedBitForBit()
    {
        // The conv reads the upsampled values in the same order, the stacked GEMM runs each layer's tiles as its own
        // launch did, the out-projection sums each output in the Linear's k order and rounds bias, residual and scale
        // as the transpose kernel did, conv1's epilogue rounds as the conv and add did, and norm1 and conv_shortcut sum
        // a skip concat's values in the order they would from the concatenated tensor: the whole forward keeps its bits. (The
        // stacked time projection may tile differently, so it is on in both.)
        var config = UNetConfig.Parse(TinyTopologies.ThreeLevelsOdd);
        using var net = UNet2DModel.CreateRandom(config, TestBackends.IlgpuCpu, seed: 9);
        Close.Identical(Forward(net, UNetFusions.None with { TimeProjections = true }), Forward(net, UNetFusions.All), "ilgpu-cpu all fusions");
    }
}
