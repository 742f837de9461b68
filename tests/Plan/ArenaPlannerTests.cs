using DiffusionKernels.Runtime.Plan;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Plan;

public class ArenaPlannerTests
{
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void ValuesAliveTogetherNeverOverlap(int seed)
    {
        var rng = new Random(seed);
        var values = Enumerable.Range(0, 200).Select(_ =>
        {
            int first = rng.Next(100);
            return ((long)rng.Next(1, 5000), first, first + rng.Next(0, 20));
        }).ToList();
        var offsets = new long[values.Count];
        long arena = ArenaPlanner.Place(values, offsets);
        long peakLive = 0;
        for (int step = 0; step < 120; step++)
            peakLive = Math.Max(peakLive, values.Where(v => v.Item2 <= step && step <= v.Item3).Sum(v => v.Item1));
        for (int i = 0; i < values.Count; i++)
        {
            Assert.That(offsets[i] % ArenaPlanner.Alignment, Is.Zero);
            Assert.That(offsets[i] + values[i].Item1, Is.LessThanOrEqualTo(arena));
            for (int j = i + 1; j < values.Count; j++)
            {
                bool together = values[i].Item2 <= values[j].Item3 && values[j].Item2 <= values[i].Item3;
                bool overlap = offsets[i] < offsets[j] + values[j].Item1 && offsets[j] < offsets[i] + values[i].Item1;
                Assert.That(together && overlap, Is.False, $"values {i} and {j} are alive together and overlap");
            }
        }
        Assert.That(arena, Is.GreaterThanOrEqualTo(peakLive));
        Assert.That(arena, Is.LessThan(values.Sum(v => v.Item1)), "reuse must beat one buffer per value");
    }

    [Test]
    public void AChainReusesTwoBuffers()
    {
        // x0 → x1 → x2 → …: each value lives from its producer to its consumer, so two slots suffice.
        var values = Enumerable.Range(0, 10).Select(i => (1024L, i, i + 1)).ToList();
        var offsets = new long[values.Count];
        Assert.That(ArenaPlanner.Place(values, offsets), Is.EqualTo(2 * 1024));
    }
}
