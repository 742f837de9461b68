using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Models;

/// <summary>Loading checks of the FIR skip-block topologies (the goldens cover their numbers).</summary>
public class SkipBlockLoadingTests
{
    private static string Dir => Fixtures.Path("unet", "ncsnpp_skip");

    private static Dictionary<string, (int[] Shape, float[] Data)> Weights()
    {
        using var source = ModelFiles.OpenWeights(Dir);
        return source.Names.ToDictionary(n => n, n => (source.ShapeOf(n), source.ReadFloat32(n)));
    }

    private static UNetConfig Config() => UNetConfig.Load(Path.Combine(Dir, "config.json"));

    [TestCase("down_blocks.1.skip_conv.weight", "[32,3,1,1]")]
    [TestCase("down_blocks.0.resnet_down.conv_shortcut.weight", "[32,32,1,1]")]
    [TestCase("up_blocks.1.skip_norm.bias", "[32]")]
    [TestCase("up_blocks.0.resnet_up.norm2.weight", "[32]")]
    [TestCase("up_blocks.1.attentions.0.group_norm.weight", "[32]")]
    public void MissingSkipBlockWeightIsNamed(string name, string shape)
    {
        var w = Weights();
        Assert.That(w.Remove(name), $"fixture has {name}");
        var e = Assert.Throws<ModelFormatException>(() => new UNet2DModel(Config(), new DictionaryWeightSource(w, "skip.safetensors"), TestBackends.Cpu).Dispose())!;
        Assert.That(e.Message, Does.Contain($"missing weight '{name}'").And.Contain(shape).And.Contain("skip.safetensors"));
    }

    [Test]
    public void LastBlocksHaveNoResamplerWeights()
    {
        // The last down block has no resnet_down/skip_conv and the last up block no resnet_up/skip_conv/skip_norm.
        var names = Weights().Keys;
        Assert.That(names, Has.None.StartsWith("down_blocks.2.skip_conv").And.None.StartsWith("down_blocks.2.resnet_down"));
        Assert.That(names, Has.None.StartsWith("up_blocks.2.skip_").And.None.StartsWith("up_blocks.2.resnet_up"));
        using var unet = new UNet2DModel(Config(), new DictionaryWeightSource(Weights()), TestBackends.Cpu);
        Assert.That(unet.ParameterCount, Is.EqualTo(455337));
    }

    [Test]
    public void SkipConvNeedsThreeImageChannels()
    {
        var json = File.ReadAllText(Path.Combine(Dir, "config.json")).Replace("\"in_channels\": 3", "\"in_channels\": 1");
        var c = UNetConfig.Parse(json);
        Assert.That(c.InChannels, Is.EqualTo(1));
        var e = Assert.Throws<ModelFormatException>(() => UNet2DModel.CreateRandom(c, TestBackends.Cpu).Dispose())!;
        Assert.That(e.Message, Does.Contain("down_blocks.0").And.Contain("in_channels is 1"));
    }

    [Test]
    public void PlainBlockAboveASkipDownBlockIsRejectedAtCompile()
    {
        // diffusers would add a skip of the wrong resolution; the plan says where instead of failing in a kernel.
        var json = File.ReadAllText(Path.Combine(Dir, "config.json")).Replace("\"SkipDownBlock2D\",\n    \"AttnSkipDownBlock2D\"", "\"DownBlock2D\",\n    \"AttnSkipDownBlock2D\"");
        var c = UNetConfig.Parse(json.Replace("\"norm_num_groups\": null", "\"norm_num_groups\": 8"));
        Assert.That(c.DownBlockTypes[0], Is.EqualTo("DownBlock2D"));
        using var unet = UNet2DModel.CreateRandom(c, TestBackends.Cpu);
        var e = Assert.Throws<ModelFormatException>(() => unet.Compile(1, 16, 16).Dispose())!;
        Assert.That(e.Message, Does.Contain("down_blocks.1"));
    }
}
