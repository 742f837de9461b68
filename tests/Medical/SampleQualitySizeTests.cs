using DiffusionKernels.Medical.Quality;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

/// <summary>SampleQuality's inputs: images smaller than the compared size and ragged sets are clear errors, not NaN or a crash.</summary>
public class SampleQualitySizeTests
{
    [TestCase(8)]
    [TestCase(15)]
    [TestCase(1)]
    public void ImagesSmallerThanTheSlicedSizeAreRefused(int size)
    {
        var a = new float[3 * size * size];
        var e = Assert.Throws<ArgumentException>(() => SampleQuality.Compare(a, a, size))!;
        Assert.That(e.Message, Does.Contain($"{size}×{size}").And.Contain("16×16"));
    }

    [Test]
    public void RaggedOrEmptySetsAreRefused()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => SampleQuality.Compare(new float[16 * 16 + 1], new float[16 * 16], 16))!.Message, Does.Contain("whole number"));
        Assert.That(Assert.Throws<ArgumentException>(() => SampleQuality.Compare([], new float[16 * 16], 16))!.Message, Does.Contain("whole number"));
        Assert.Throws<ArgumentOutOfRangeException>(() => SampleQuality.Downsample(new float[64], 8, 16));
        Assert.Throws<ArgumentOutOfRangeException>(() => SampleQuality.SpectrumDistance(new float[4], new float[4], 2));
    }

    [Test]
    public void TheSmallestAcceptedSizeGivesFiniteScores()
    {
        var a = SampleQuality.UniformNoise(4 * 16 * 16, 1);
        var b = SampleQuality.UniformNoise(4 * 16 * 16, 2);
        var q = SampleQuality.Compare(a, b, 16, projections: 8);
        Assert.That(double.IsFinite(q.SlicedWasserstein) && double.IsFinite(q.HistogramW1) && double.IsFinite(q.SpectrumDistance), q.ToString());
        Assert.That(q.HistogramW1, Is.GreaterThan(0), "two different noise sets are not identical");
    }
}
