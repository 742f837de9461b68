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

    [TestCase(16)]
    [TestCase(20)]
    public void TheRadialSpectrumMatchesANaiveDft(int size)
    {
        // 70 images: more than one band of the batched FFT.
        int n = 70, plane = size * size;
        var images = SampleQuality.UniformNoise(n * plane, 5);
        var actual = SampleQuality.RadialLogSpectrum(images, size);
        int radii = size / 2;
        var sums = new double[radii];
        var counts = new int[radii];
        for (int k = 0; k < n; k++)
            for (int u = 0; u < size; u++)
                for (int v = 0; v < size; v++)
                {
                    int fu = u <= size / 2 ? u : u - size, fv = v <= size / 2 ? v : v - size;
                    int r = (int)Math.Round(Math.Sqrt(fu * fu + fv * fv));
                    if (r >= radii) continue;
                    double re = 0, im = 0;
                    for (int y = 0; y < size; y++)
                        for (int x = 0; x < size; x++)
                        {
                            double a = -2 * Math.PI * ((double)u * y / size + (double)v * x / size), p = images[k * plane + y * size + x];
                            re += p * Math.Cos(a);
                            im += p * Math.Sin(a);
                        }
                    // Orthonormal scaling: |X|² / (H·W).
                    sums[r] += (re * re + im * im) / plane;
                    counts[r]++;
                }
        for (int r = 0; r < radii; r++)
        {
            double expected = Math.Log10(sums[r] / Math.Max(1, counts[r]) + 1e-12);
            // float32 FFT against a double DFT: ~1e-6 relative on the power, far below 1e-5 in log10.
            Assert.That(actual[r], Is.EqualTo(expected).Within(1e-5), $"radius {r}");
        }
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
