using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Conditioning;

/// <summary>Opening an image-conditioned model folder for plain sampling says what it needs.</summary>
public class ConditionedModelFolderTests
{
    [Test]
    public void AnImageConditionedModelNamesItsConditionChannels()
    {
        var dir = Directory.CreateTempSubdirectory("dk-cond-").FullName;
        try
        {
            TinyModel.Write(dir, configure: c => c["in_channels"] = 3);
            Assert.That(() => DiffusionModel.Open(dir, TestBackends.Cpu, 1).Dispose(),
                Throws.ArgumentException.With.Message.StartsWith(dir).And.Message.Contains("image-conditioned (3 input channels for 1 output channels: 2 condition channels)"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
