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

    [Test]
    public void Lesion_specs_share_positions_and_keep_the_anatomy()
    {
        var (healthy, _) = HeadPhantom.Generate(64, 5, 3, (LesionSpec?)null);
        var (standard, m0) = HeadPhantom.Generate(64, 5, 3, true);
        var (viaSpec, m1) = HeadPhantom.Generate(64, 5, 3, LesionSpec.Standard);
        Assert.That(viaSpec, Is.EqualTo(standard), "the bool overload is the standard spec");
        Assert.That(m1, Is.EqualTo(m0));
        var (dark, md) = HeadPhantom.Generate(64, 5, 3, LesionSpec.Dark);
        var (small, ms) = HeadPhantom.Generate(64, 5, 3, LesionSpec.Small);
        Assert.That(ms!.Sum(), Is.LessThan(m0!.Sum()), "small lesions cover less");
        for (int i = 0; i < healthy.Length; i++)
        {
            if (md![i] == 1f) Assert.That(dark[i], Is.LessThan(healthy[i] - 0.1f), $"pixel {i}: a dark lesion is darker");
            if (md[i] == 0f && m0![i] == 0f && ms![i] == 0f) Assert.That(dark[i], Is.EqualTo(healthy[i]).Within(0.3f));
        }
        Assert.Throws<ArgumentException>(() => new LesionSpec(0, 1, 0.1, 0.2, 0.1, 0.2).Validate());
    }

    [Test]
    public void Out_of_distribution_views()
    {
        var (head, _) = HeadPhantom.Generate(32, 0, 7, (LesionSpec?)null);
        var flipped = OutOfDistribution.Generate(OodKind.Flipped, 32, 0, 7);
        for (int r = 0; r < 32; r++)
            for (int c = 0; c < 32; c++)
                Assert.That(flipped[r * 32 + c], Is.EqualTo(head[(31 - r) * 32 + c]).Within(1e-6), $"row {r} col {c}: flipped upside down");
        // Rotating by a quarter turn moves the head's long (vertical) axis to the horizontal.
        var rotated = HeadPhantom.Generate(32, 0, 7, null, new PhantomView(Math.PI / 2, 1, false, false)).Image;
        int Extent(float[] img, bool rows) => Enumerable.Range(0, 32).Count(i => Enumerable.Range(0, 32).Any(j => (rows ? img[i * 32 + j] : img[j * 32 + i]) > 0.05f));
        Assert.That(Extent(head, rows: true), Is.GreaterThan(Extent(head, rows: false)));
        Assert.That(Extent(rotated, rows: true), Is.LessThan(Extent(rotated, rows: false)));
        var shepp = OutOfDistribution.SheppLogan(64, PhantomView.Identity);
        Assert.That(shepp.Max(), Is.EqualTo(1f).Within(1e-6));
        Assert.That(shepp[32 * 64 + 32], Is.EqualTo(0.2f).Within(0.11f), "brain at the centre (0.2, or 0.3 on a small feature)");
        Assert.That(shepp[0], Is.Zero);
        var (mixed, kinds) = OutOfDistribution.Mixed(8, 32, 0, 4_000_000_000);
        Assert.That(kinds, Is.EqualTo(new[] { OodKind.SheppLogan, OodKind.Rotated, OodKind.Flipped, OodKind.Scaled, OodKind.SheppLogan, OodKind.Rotated, OodKind.Flipped, OodKind.Scaled }));
        Assert.That(mixed.All(v => v >= 0 && v <= 1), Is.True);
        var scaled = OutOfDistribution.Generate(OodKind.Scaled, 32, 0, 7);
        Assert.That(scaled.Count(v => v > 0.05f), Is.LessThan(head.Count(v => v > 0.05f) * 0.7));
    }
}
