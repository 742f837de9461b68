using DiffusionKernels.Medical.Phantoms;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

/// <summary>Paired phantoms for translation: the same anatomy in two contrasts that no pixelwise lookup maps onto each other.</summary>
public class SecondContrastTests
{
    [Test]
    public void ContrastAIsTheSingleContrastPhantomAndMasksAgree()
    {
        var (a, b, mask) = SecondContrast.Generate(48, 5, 17, LesionSpec.Standard);
        var (image, m) = HeadPhantom.Generate(48, 5, 17, LesionSpec.Standard);
        Assert.That(a, Is.EqualTo(image));
        Assert.That(mask, Is.EqualTo(m));
        Assert.That(b, Is.All.InRange(0f, 1f));
        Assert.That(SecondContrast.Generate(48, 5, 17, LesionSpec.Standard).B, Is.EqualTo(b), "deterministic per (seed, index)");
        // Outside the head both contrasts are background.
        for (int i = 0; i < a.Length; i++)
            if (a[i] == 0) Assert.That(b[i], Is.EqualTo(0f), $"pixel {i}");
    }

    [Test]
    public void TissueOrderFlipsBetweenContrasts()
    {
        const int size = 64;
        var (a, b, _) = SecondContrast.Generate(size, 0, 3);
        // The skull is the brightest ring of A; there B is dark. The ventricles are the darkest brain pixels of A; there B is bright.
        var skull = Enumerable.Range(0, a.Length).Where(i => a[i] > 0.85f).ToArray();
        var csf = Enumerable.Range(0, a.Length).Where(i => a[i] > 0.02f && a[i] < 0.2f && Centre(i)).ToArray();
        Assert.That(skull, Is.Not.Empty);
        Assert.That(csf, Is.Not.Empty);
        Assert.That(skull.Average(i => b[i]), Is.LessThan(0.35), "skull is dark in B");
        Assert.That(csf.Average(i => b[i]), Is.GreaterThan(0.6), "CSF is bright in B");
        static bool Centre(int i) => Math.Abs(i / size - size / 2) < size / 4 && Math.Abs(i % size - size / 2) < size / 4;
    }

    [Test]
    public void NoPixelwiseLookupMapsAToB()
    {
        // The best lookup table (mean B per A bin) fitted on 16 training pairs, applied to 8 held-out pairs.
        const int size = 32, bins = 256;
        var (trainA, trainB, _) = SecondContrast.GenerateBatch(16, size, 0);
        var (testA, testB, _) = SecondContrast.GenerateBatch(8, size, 0, firstIndex: 100);
        var sum = new double[bins];
        var count = new int[bins];
        for (int i = 0; i < trainA.Length; i++)
        {
            int k = Math.Min(bins - 1, (int)(trainA[i] * bins));
            sum[k] += trainB[i];
            count[k]++;
        }
        // Over the head only: the background (0 in both) is trivially mapped and would dilute the fraction.
        var head = Enumerable.Range(0, testA.Length).Where(i => testA[i] > 0).ToArray();
        double mean = head.Average(i => testB[i]), residual = 0, spread = 0;
        foreach (int i in head)
        {
            int k = Math.Min(bins - 1, (int)(testA[i] * bins));
            double predicted = count[k] > 0 ? sum[k] / count[k] : mean;
            residual += (testB[i] - predicted) * (testB[i] - predicted);
            spread += (testB[i] - mean) * (testB[i] - mean);
        }
        // A lookup would explain all of B's variance inside the head if B were a function of A; 0.56 of it is left (RMSE 0.13).
        Assert.That(residual / spread, Is.GreaterThan(0.4), $"unexplained fraction {residual / spread:F3}, RMSE {Math.Sqrt(residual / head.Length):F3}");
    }
}
