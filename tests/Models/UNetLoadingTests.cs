using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Models;

public class UNetLoadingTests
{
    private static string Dir => Fixtures.Path("unet", "tiny_ddpm");

    private static Dictionary<string, (int[] Shape, float[] Data)> Weights()
    {
        using var source = ModelFiles.OpenWeights(Dir);
        return source.Names.ToDictionary(n => n, n => (source.ShapeOf(n), source.ReadFloat32(n)));
    }

    private static UNetConfig Config() => UNetConfig.Load(Path.Combine(Dir, "config.json"));

    [Test]
    public void MissingWeightIsNamed()
    {
        var w = Weights();
        w.Remove("down_blocks.1.attentions.0.to_k.weight");
        var e = Assert.Throws<ModelFormatException>(() => new UNet2DModel(Config(), new DictionaryWeightSource(w, "test.safetensors"), TestBackends.Cpu).Dispose())!;
        Assert.That(e.Message, Does.Contain("missing weight 'down_blocks.1.attentions.0.to_k.weight'").And.Contain("[64,64]").And.Contain("test.safetensors"));
    }

    [Test]
    public void ExtraWeightIsNamed()
    {
        var w = Weights();
        w["mid_block.extra.weight"] = ([3], new float[3]);
        var e = Assert.Throws<ModelFormatException>(() => new UNet2DModel(Config(), new DictionaryWeightSource(w), TestBackends.Cpu).Dispose())!;
        Assert.That(e.Message, Does.Contain("'mid_block.extra.weight' [3]"));
    }

    [Test]
    public void WrongShapeNamesBothShapes()
    {
        var w = Weights();
        w["conv_in.weight"] = ([32, 3, 5, 5], new float[32 * 3 * 25]);
        var e = Assert.Throws<ModelFormatException>(() => new UNet2DModel(Config(), new DictionaryWeightSource(w), TestBackends.Cpu).Dispose())!;
        Assert.That(e.Message, Does.Contain("'conv_in.weight'").And.Contain("[32,3,5,5]").And.Contain("[32,3,3,3]"));
    }

    [Test]
    public void LegacyAttentionNamesLoad()
    {
        var w = Weights();
        foreach (var key in w.Keys.Where(k => k.Contains(".attentions.") && k.Contains(".to_q.")).ToList())
        {
            w[key.Replace(".to_q.", ".query.")] = w[key];
            w.Remove(key);
        }
        using var unet = new UNet2DModel(Config(), new DictionaryWeightSource(w), TestBackends.Cpu);
        Assert.That(unet.ParameterCount, Is.EqualTo(702499));
    }

    [Test]
    public void UnknownConfigKeyAndBlockTypeAreErrors()
    {
        var e = Assert.Throws<ModelFormatException>(() => UNetConfig.Parse("""{"block_out_channels":[32], "down_block_types":["DownBlock2D"], "up_block_types":["UpBlock2D"], "cross_attention_dim": 768}"""))!;
        Assert.That(e.Message, Does.Contain("cross_attention_dim"));
        e = Assert.Throws<ModelFormatException>(() => UNetConfig.Parse("""{"block_out_channels":[32], "down_block_types":["CrossAttnDownBlock2D"], "up_block_types":["UpBlock2D"]}"""))!;
        Assert.That(e.Message, Does.Contain("CrossAttnDownBlock2D"));
        e = Assert.Throws<ModelFormatException>(() => UNetConfig.Parse("""{"block_out_channels":[32,64], "down_block_types":["DownBlock2D"], "up_block_types":["UpBlock2D"]}"""))!;
        Assert.That(e.Message, Does.Contain("same length"));
        e = Assert.Throws<ModelFormatException>(() => UNetConfig.Parse("""{"act_fn": "tanh"}"""))!;
        Assert.That(e.Message, Does.Contain("tanh"));
    }

    [Test]
    public void DiffusersDefaultsApplyToMissingKeys()
    {
        var c = UNetConfig.Parse("{}");
        Assert.That(c.BlockOutChannels, Is.EqualTo(new[] { 224, 448, 672, 896 }));
        Assert.That(c.AttentionHeadDim, Is.EqualTo(8));
        Assert.That(c.NormEps, Is.EqualTo(1e-5f));
        Assert.That(c.FlipSinToCos, Is.True);
        var nullHead = UNetConfig.Parse("""{"attention_head_dim": null, "_use_default_values": ["norm_eps"], "norm_eps": 0.5}""");
        Assert.That(nullHead.AttentionHeadDim, Is.Null);
        Assert.That(nullHead.NormEps, Is.EqualTo(1e-5f), "keys in _use_default_values take the current default");
    }

    [Test]
    public void DdpmCifarTopologyHasThePublishedParameterCount()
    {
        using var unet = UNet2DModel.CreateRandom(UNetConfig.Parse(KnownTopologies.DdpmCifar10), TestBackends.Cpu);
        Assert.That(unet.ParameterCount, Is.EqualTo(35_746_307));
        using var plan = unet.Compile(1, 32, 32);
        // 6.22 GMAC per image (counted independently from the architecture) = 12.4 GFLOP.
        Assert.That(plan.Flops / 1e9, Is.EqualTo(12.4).Within(0.15));
    }

    [Test]
    public void InputSizeMustDivideTheLevels()
    {
        using var unet = UNet2DModel.Load(Dir, TestBackends.Cpu);
        var e = Assert.Throws<ShapeMismatchException>(() => unet.Compile(1, 15, 16).Dispose())!;
        Assert.That(e.Message, Does.Contain("15×16").And.Contain("multiple of 2"));
    }

    [Test]
    public void ClassConditionalModelNeedsLabels()
    {
        var b = TestBackends.Cpu;
        using var unet = UNet2DModel.Load(Fixtures.Path("unet", "film_classes_f16"), b);
        using var plan = unet.Compile(1, 24, 24);
        plan.SetTimesteps([5f]);
        var e = Assert.Throws<InvalidOperationException>(() => plan.Run())!;
        Assert.That(e.Message, Does.Contain("class labels"));
        Assert.Throws<ArgumentOutOfRangeException>(() => plan.SetClassLabels([7]));
    }
}
