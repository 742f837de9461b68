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

    [TestCase(4, 64)]
    [TestCase(8, 64)]
    [TestCase(4, 256)]
    [TestCase(8, 256)]
    [TestCase(4, 320)]
    [TestCase(8, 368)]
    [TestCase(3, 50)]
    public void Centre_is_fully_sampled_and_the_row_count_is_exact(int acc, int h)
    {
        double fraction = acc is 4 or 8 ? MriMasks.DefaultCenterFraction(acc) : 0.08;
        int low = MriMasks.CenterLines(h, fraction), total = MriMasks.TotalLines(h, acc);
        Assert.That(low, Is.EqualTo((int)Math.Round(h * fraction, MidpointRounding.ToEven)));
        Assert.That(total, Is.EqualTo((int)Math.Round(h / (double)acc, MidpointRounding.ToEven)));
        for (ulong s = 0; s < 20; s++)
        {
            foreach (var mask in new[] { MriMasks.Random(h, 3, acc, s, fraction), MriMasks.Equispaced(h, 3, acc, s, fraction) })
            {
                var rows = MriMasks.SampledRows(mask, h, 3);
                foreach (int r in CentreRows(h, low)) Assert.That(rows[r], Is.True, $"centre row {r}");
                Assert.That(rows[0], Is.True, "DC row");
                for (int r = 0; r < h; r++) Assert.That(mask.AsSpan(r * 3, 3).ToArray().Distinct().Count(), Is.EqualTo(1), "whole rows");
                Assert.That(Count(rows), Is.EqualTo(total), "exactly H/acceleration rows");
                var (sampled, effective) = MriMasks.EffectiveAcceleration(mask, h, 3);
                Assert.That(sampled, Is.EqualTo(total));
                Assert.That(effective, Is.EqualTo(h / (double)total));
            }
        }
        // 64 rows: 16 at 4× (5 centre), 8 at 8× (3 centre), as fastMRI's fractions give.
        Assert.That(MriMasks.TotalLines(64, 4), Is.EqualTo(16));
        Assert.That(MriMasks.TotalLines(64, 8), Is.EqualTo(8));
    }

    [Test]
    public void Random_rows_outside_the_centre_are_uniform_and_equispaced_rows_are_evenly_spread()
    {
        const int h = 64, acc = 4;
        int low = MriMasks.CenterLines(h, 0.08);
        var centre = CentreRows(h, low).ToHashSet();
        var hits = new int[h];
        const int seeds = 400;
        for (ulong s = 0; s < seeds; s++)
        {
            var rows = MriMasks.SampledRows(MriMasks.Random(h, 1, acc, s), h, 1);
            for (int r = 0; r < h; r++) if (rows[r] && !centre.Contains(r)) hits[r]++;
        }
        // Each of the 59 outer rows is drawn with probability 11/59; 400 masks give ≈ 75 hits, binomial std ≈ 7.8.
        double expected = seeds * (MriMasks.TotalLines(h, acc) - low) / (double)(h - low);
        for (int r = 0; r < h; r++) if (!centre.Contains(r)) Assert.That(hits[r], Is.EqualTo(expected).Within(5 * 7.8), $"row {r}");
        // Equispaced: gaps between consecutive outer rows (in centred order, skipping the centre block) differ by at most 1.
        var eq = MriMasks.SampledRows(MriMasks.Equispaced(h, 1, acc, 3), h, 1);
        var centred = Enumerable.Range(0, h).Select(i => eq[((i - h / 2) % h + h) % h]).ToArray();
        var pad = (h - low + 1) / 2;
        var outer = Enumerable.Range(0, h).Where(i => i < pad || i >= pad + low).ToList();
        var picked = outer.Select((row, idx) => (row, idx)).Where(t => centred[t.row]).Select(t => t.idx).ToList();
        var gaps = picked.Zip(picked.Skip(1), (a, b) => b - a).ToList();
        Assert.That(gaps.Max() - gaps.Min(), Is.LessThanOrEqualTo(1), string.Join(",", gaps));
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
        Assert.Throws<ArgumentException>(() => MriMasks.Create("radial", 64, 4, 4, 1));
    }
}
