using DiffusionKernels.Medical.Phantoms;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

public class HeadPhantomTests
{
    [Test]
    public void SameSeedAndIndexGiveTheSameImage()
    {
        var (a, _) = HeadPhantom.Generate(64, 7, 3, lesions: false);
        var (b, _) = HeadPhantom.Generate(64, 7, 3, lesions: false);
        var (c, _) = HeadPhantom.Generate(64, 7, 4, lesions: false);
        var (d, _) = HeadPhantom.Generate(64, 8, 3, lesions: false);
        Assert.That(b, Is.EqualTo(a));
        Assert.That(c, Is.Not.EqualTo(a));
        Assert.That(d, Is.Not.EqualTo(a));
    }

    [Test]
    public void BatchesAreIndependentOfHowTheyAreSplit()
    {
        var (whole, _) = HeadPhantom.GenerateBatch(4, 32, 11, lesions: false);
        var (tail, _) = HeadPhantom.GenerateBatch(2, 32, 11, lesions: false, firstIndex: 2);
        Assert.That(whole[(2 * 32 * 32)..], Is.EqualTo(tail));
    }

    [TestCase(64)]
    [TestCase(37)]
    public void ImagesLookLikeHeads(int size)
    {
        var (img, _) = HeadPhantom.Generate(size, 1, 0, lesions: false);
        Assert.That(img, Has.Length.EqualTo(size * size));
        Assert.That(img, Is.All.InRange(0f, 1f));
        Assert.That(img[0], Is.Zero, "corners are background");
        Assert.That(img[size / 2 * size + size / 2], Is.GreaterThan(0.05f), "the centre is inside the head");
        Assert.That(img.Max(), Is.GreaterThan(0.85f), "the skull is bright");
        float covered = img.Count(v => v > 0.05f) / (float)img.Length;
        Assert.That(covered, Is.InRange(0.3f, 0.75f), "the head fills a plausible part of the field of view");
    }

    [Test]
    public void LesionMasksMarkWhereLesionsBrightenTheImage()
    {
        for (int k = 0; k < 8; k++)
        {
            var (healthy, _) = HeadPhantom.Generate(64, 5, k, lesions: false);
            var (sick, mask) = HeadPhantom.Generate(64, 5, k, lesions: true);
            Assert.That(mask, Is.Not.Null);
            Assert.That(mask!.Sum(), Is.GreaterThan(3f), $"phantom {k} has a lesion");
            for (int i = 0; i < healthy.Length; i++)
            {
                float diff = sick[i] - healthy[i];
                if (mask![i] == 1f) Assert.That(diff, Is.GreaterThan(0.1f).Or.GreaterThan(0.95f - healthy[i]), $"phantom {k} pixel {i}: masked but not brighter");
                else Assert.That(diff, Is.LessThan(0.3f), $"phantom {k} pixel {i}: a strong lesion outside the mask");
            }
        }
    }
}
