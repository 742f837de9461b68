using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Medical.Operators;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

public class MriMasksTests
{
    private static int Count(bool[] rows) => rows.Count(r => r);

    /// <summary>The centre rows in FFT order: frequencies −⌈c/2⌉ … ⌊c/2⌋−1 around DC (fastMRI's centred block ifftshifted).</summary>
    private static IEnumerable<int> CentreRows(int h, int low)
    {
        int pad = (h - low + 1) / 2;
        for (int i = pad; i < pad + low; i++) yield return ((i - h / 2) % h + h) % h;
    }

    [TestCase(4, 256)]
    [TestCase(8, 256)]
    [TestCase(4, 320)]
    [TestCase(8, 368)]
    public void Centre_is_fully_sampled_and_acceleration_holds(int acc, int h)
    {
        int low = MriMasks.CenterLines(h, MriMasks.DefaultCenterFraction(acc));
        Assert.That(low, Is.EqualTo((int)Math.Round(h * (acc == 4 ? 0.08 : 0.04), MidpointRounding.ToEven)));
        double randomTotal = 0, equiTotal = 0;
        const int seeds = 60;
        for (ulong s = 0; s < seeds; s++)
        {
            foreach (var (mask, isRandom) in new[] { (MriMasks.Random(h, 3, acc, s), true), (MriMasks.Equispaced(h, 3, acc, s), false) })
            {
                var rows = MriMasks.SampledRows(mask, h, 3);
                foreach (int r in CentreRows(h, low)) Assert.That(rows[r], Is.True, $"centre row {r}");
                Assert.That(rows[0], Is.True, "DC row");
                for (int r = 0; r < h; r++) Assert.That(mask.AsSpan(r * 3, 3).ToArray().Distinct().Count(), Is.EqualTo(1), "whole rows");
                if (isRandom) randomTotal += Count(rows); else equiTotal += Count(rows);
                if (!isRandom) Assert.That(Count(rows), Is.EqualTo(h / (double)acc).Within(0.12 * h / acc), "equispaced count");
            }
        }
        Assert.That(randomTotal / seeds, Is.EqualTo(h / (double)acc).Within(0.04 * h / acc), "random mean count");
        Assert.That(equiTotal / seeds, Is.EqualTo(h / (double)acc).Within(0.06 * h / acc), "equispaced mean count");
    }

    [Test]
    public void Deterministic_by_seed()
    {
        Assert.That(MriMasks.Random(128, 4, 4, 5), Is.EqualTo(MriMasks.Random(128, 4, 4, 5)));
        Assert.That(MriMasks.Random(128, 4, 4, 5), Is.Not.EqualTo(MriMasks.Random(128, 4, 4, 6)));
        Assert.That(MriMasks.Equispaced(128, 4, 8, 5), Is.EqualTo(MriMasks.Equispaced(128, 4, 8, 5)));
        // Equispaced offsets vary with the seed: some pair of seeds differs.
        Assert.That(Enumerable.Range(0, 8).Select(s => string.Join(",", MriMasks.Equispaced(128, 1, 8, (ulong)s))).Distinct().Count(), Is.GreaterThan(1));
    }

    [Test]
    public void Npy_round_trip_and_bad_files()
    {
        var dir = Path.Combine(Path.GetTempPath(), "dk-mritest-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var mask = MriMasks.Random(64, 32, 8, 1);
            var path = Path.Combine(dir, "mask.npy");
            MriMasks.Save(path, mask, 64, 32);
            var (loaded, h, w) = MriMasks.Load(path);
            Assert.That((h, w), Is.EqualTo((64, 32)));
            Assert.That(loaded, Is.EqualTo(mask));
            var bad = Path.Combine(dir, "bad.npy");
            DiffusionKernels.Runtime.IO.Npy.Write(bad, new float[] { 0, 0.5f, 1, 1 }, [2, 2]);
            Assert.That(Assert.Throws<ArgumentException>(() => MriMasks.Load(bad))!.Message, Does.Contain("bad.npy"));
            DiffusionKernels.Runtime.IO.Npy.Write(bad, new float[8], [2, 2, 2]);
            Assert.Throws<DiffusionKernels.Runtime.ModelFormatException>(() => MriMasks.Load(bad));
        }
        finally { Directory.Delete(dir, true); }
        Assert.Throws<ArgumentOutOfRangeException>(() => MriMasks.Random(64, 4, 6, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => MriMasks.Random(64, 4, 4, 1, 0.5));
    }
}
