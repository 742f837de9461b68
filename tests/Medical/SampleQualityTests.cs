using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Medical.Quality;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

public class SampleQualityTests
{
    [Test]
    public void Wasserstein1MatchesHandComputedValues()
    {
        Assert.That(SampleQuality.Wasserstein1(new[] { 0.0, 1.0 }, new[] { 0.0, 1.0 }), Is.EqualTo(0).Within(1e-12));
        Assert.That(SampleQuality.Wasserstein1(new[] { 0.0, 1.0, 2.0 }, new[] { 0.5, 1.5, 2.5 }), Is.EqualTo(0.5).Within(1e-12), "a shift moves W1 by the shift");
        Assert.That(SampleQuality.Wasserstein1(new[] { 0.0 }, new[] { 0.0, 1.0 }), Is.EqualTo(0.5).Within(1e-12), "half the mass moves by 1");
    }

    [Test]
    public void SlicedWassersteinIsZeroForIdenticalSetsAndSeesAShift()
    {
        var a = Enumerable.Range(0, 64 * 4).Select(i => (float)Math.Sin(i)).ToArray();
        Assert.That(SampleQuality.SlicedWasserstein(a, a, 4, 32, 0), Is.EqualTo(0).Within(1e-12));
        var b = a.Select(v => v + 1f).ToArray();
        // Shifting every coordinate by 1 shifts each projection by (1,1,1,1)·u = Σu; E|Σu| for a random unit u in 4-D is ~0.8.
        Assert.That(SampleQuality.SlicedWasserstein(a, b, 4, 256, 0), Is.InRange(0.6, 1.0));
    }

    [Test]
    public void PhantomsAreCloserToPhantomsThanNoiseIs()
    {
        int size = 32, n = 64;
        var real = HeadPhantom.GenerateBatch(n, size, 0, false, 0).Images;
        var second = HeadPhantom.GenerateBatch(n, size, 0, false, n).Images;
        var rng = new Random(3);
        var noise = real.Select(_ => rng.NextSingle()).ToArray();
        var same = SampleQuality.Compare(second, real, size);
        var far = SampleQuality.Compare(noise, real, size);
        Assert.That(same.SlicedWasserstein, Is.LessThan(far.SlicedWasserstein / 4));
        Assert.That(same.HistogramW1, Is.LessThan(far.HistogramW1 / 4));
        Assert.That(same.SpectrumDistance, Is.LessThan(far.SpectrumDistance / 4));
        Assert.That(SampleQuality.Compare(real, real, size).SpectrumDistance, Is.EqualTo(0).Within(1e-12));
    }
}
