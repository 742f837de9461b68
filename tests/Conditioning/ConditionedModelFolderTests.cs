using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Conditioning;

/// <summary>Opening an image-conditioned model folder: with a condition it samples, without one it says what it needs.</summary>
public class ConditionedModelFolderTests
{
    private string _dir = "";

    [SetUp]
    public void Write() => _dir = Directory.CreateTempSubdirectory("dk-cond-").FullName;

    [TearDown]
    public void Remove() => Directory.Delete(_dir, true);

    [Test]
    public void AnImageConditionedModelNamesItsConditionChannels()
    {
        TinyModel.Write(_dir, configure: c => c["in_channels"] = 3);
        Assert.That(() => DiffusionModel.Open(_dir, TestBackends.Cpu, 1).Dispose(),
            Throws.ArgumentException.With.Message.StartsWith(_dir).And.Message.Contains("image-conditioned (3 input channels for 1 output channels: 2 condition channels)"));
    }

    [Test]
    public void WithAConditionItOpensAndTakesConditionsPerBatch()
    {
        TinyModel.Write(_dir, configure: c => c["in_channels"] = 3);
        using var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 2, image: new ImageConditioning());
        Assert.That(model.ConditionShape, Is.EqualTo(new[] { 2, 8, 8 }));
        Assert.That(model.SampleShape, Is.EqualTo(new[] { 1, 8, 8 }));
        model.SetCondition(new float[2 * 128]);
        model.SetCondition(new float[128]); // fewer than a batch: the rest are zeros
        Assert.That(() => model.SetCondition(new float[3 * 128]), Throws.TypeOf<ShapeMismatchException>().With.Message.Contains("up to 2 images of [2,8,8]"));
        Assert.That(() => model.SetCondition(new float[100]), Throws.TypeOf<ShapeMismatchException>());
    }

    [Test]
    public void AnUnconditionalModelRefusesACondition()
    {
        TinyModel.Write(_dir);
        Assert.That(() => DiffusionModel.Open(_dir, TestBackends.Cpu, 1, image: new ImageConditioning()).Dispose(),
            Throws.ArgumentException.With.Message.Contains("not image-conditioned (in_channels 1, out_channels 1)"));
        using var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 1);
        Assert.That(model.ConditionShape, Is.Null);
        Assert.That(() => model.SetCondition(new float[64]), Throws.InvalidOperationException);
    }
}
