using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Runtime.Models.Layers;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Models;

/// <summary>The block factory: which names it accepts and which diffusers weights each kind takes.</summary>
public class UNetBlocksTests
{
    private static UNetConfig Config(string down0, string up1, string downsampleType = "conv", string upsampleType = "conv") => UNetConfig.Parse($$"""
        {
          "in_channels": 3, "out_channels": 3, "block_out_channels": [32, 32], "layers_per_block": 1,
          "down_block_types": ["{{down0}}", "DownBlock2D"], "up_block_types": ["UpBlock2D", "{{up1}}"],
          "norm_num_groups": 8, "attention_head_dim": 8,
          "downsample_type": "{{downsampleType}}", "upsample_type": "{{upsampleType}}"
        }
        """);

    private static HashSet<string> Names(UNetConfig c) => [.. UNet2DModel.WeightShapes(c).Select(w => w.Name)];

    [TestCase("DownBlock2D", "down_blocks.0.downsamplers.0.conv.weight", null)]
    [TestCase("UNetResDownBlock2D", "down_blocks.0.downsamplers.0.conv.weight", null)]
    [TestCase("AttnDownBlock2D", "down_blocks.0.downsamplers.0.conv.weight", "down_blocks.0.attentions.0.to_q.weight")]
    [TestCase("ResnetDownsampleBlock2D", "down_blocks.0.downsamplers.0.conv1.weight", null)]
    [TestCase("SkipDownBlock2D", "down_blocks.0.skip_conv.weight", null)]
    [TestCase("AttnSkipDownBlock2D", "down_blocks.0.resnet_down.conv1.weight", "down_blocks.0.attentions.0.to_q.weight")]
    public void DownKindTakesItsDiffusersWeights(string type, string downsampler, string? attention)
    {
        var names = Names(Config(type, "UpBlock2D"));
        Assert.That(names, Does.Contain(downsampler));
        Assert.That(names.Any(n => n.StartsWith("down_blocks.0.attentions.", StringComparison.Ordinal)), Is.EqualTo(attention is not null));
        if (attention is not null) Assert.That(names, Does.Contain(attention));
        // The last level never downsamples, whatever its kind.
        Assert.That(names.Any(n => n.StartsWith("down_blocks.1.downsamplers", StringComparison.Ordinal)), Is.False);
        Assert.That(UNetBlocks.DownHasAttention(type), Is.EqualTo(attention is not null));
    }

    [TestCase("UpBlock2D", "up_blocks.0.upsamplers.0.conv.weight", null)]
    [TestCase("AttnUpBlock2D", "up_blocks.0.upsamplers.0.conv.weight", "up_blocks.0.attentions.0.to_q.weight")]
    [TestCase("ResnetUpsampleBlock2D", "up_blocks.0.upsamplers.0.conv1.weight", null)]
    [TestCase("SkipUpBlock2D", "up_blocks.0.skip_conv.weight", null)]
    [TestCase("AttnSkipUpBlock2D", "up_blocks.0.resnet_up.conv1.weight", "up_blocks.0.attentions.0.to_q.weight")]
    public void UpKindTakesItsDiffusersWeights(string type, string upsampler, string? attention)
    {
        var c = UNetConfig.Parse($$"""
            {
              "in_channels": 3, "out_channels": 3, "block_out_channels": [32, 32], "layers_per_block": 1,
              "down_block_types": ["DownBlock2D", "DownBlock2D"], "up_block_types": ["{{type}}", "UpBlock2D"],
              "norm_num_groups": 8, "attention_head_dim": 8
            }
            """);
        var names = Names(c);
        Assert.That(names, Does.Contain(upsampler));
        Assert.That(names.Any(n => n.StartsWith("up_blocks.0.attentions.", StringComparison.Ordinal)), Is.EqualTo(attention is not null));
        if (attention is not null) Assert.That(names, Does.Contain(attention));
        Assert.That(names.Any(n => n.StartsWith("up_blocks.1.upsamplers", StringComparison.Ordinal)), Is.False);
        Assert.That(UNetBlocks.UpHasAttention(type), Is.EqualTo(attention is not null));
    }

    [Test]
    public void AttentionBlocksHonourTheResampleTypes()
    {
        var names = Names(Config("AttnDownBlock2D", "AttnUpBlock2D", downsampleType: "resnet", upsampleType: "resnet"));
        Assert.That(names, Does.Contain("down_blocks.0.downsamplers.0.conv1.weight").And.Not.Contain("down_blocks.0.downsamplers.0.conv.weight"));
        // up_blocks.1 is the last level; the resnet upsampler belongs to up_blocks.0, which is UpBlock2D here (always conv).
        Assert.That(names, Does.Contain("up_blocks.0.upsamplers.0.conv.weight"));
        // Plain blocks hard-wire their resampler whatever the config says.
        var plain = Names(Config("DownBlock2D", "UpBlock2D", downsampleType: "resnet", upsampleType: "resnet"));
        Assert.That(plain, Does.Contain("down_blocks.0.downsamplers.0.conv.weight"));
    }

    [Test]
    public void EveryDownKindHasItsUpCounterpart()
    {
        foreach (var down in UNetBlocks.DownTypes)
        {
            string up = down.Replace("Downsample", "Upsample", StringComparison.Ordinal).Replace("Down", "Up", StringComparison.Ordinal);
            Assert.That(UNetBlocks.UpTypes, Does.Contain(up), down);
        }
        Assert.That(UNetBlocks.UpTypes, Has.Count.EqualTo(UNetBlocks.DownTypes.Count));
    }

    [Test]
    public void UnknownKindIsRejectedByTheConfigWithTheSupportedList()
    {
        var e = Assert.Throws<ModelFormatException>(() => Config("CrossAttnDownBlock2D", "UpBlock2D"))!;
        Assert.That(e.Message, Does.Contain("down block type 'CrossAttnDownBlock2D' is not supported").And.Contain(string.Join(", ", UNetBlocks.DownTypes)));
        Assert.That(UNetBlocks.IsDownType("UNetResAttnSkipDownBlock2D"), Is.True);
        Assert.That(UNetBlocks.IsUpType("AttnDownBlock2D"), Is.False);
    }
}
