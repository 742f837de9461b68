using DiffusionKernels.Kernels.Gpu;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

/// <summary>The conv gathers' tap walks against the definition k = ci·(kh·kw) + ky·kw + kx, on random geometries and progressions.</summary>
public class ConvTapsTests
{
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void CursorAndDividerDecodeEveryRowOfTheProgression(int seed)
    {
        var random = new Random(seed);
        for (int trial = 0; trial < 300; trial++)
        {
            var g = new Conv2dGeometry { InChannels = random.Next(1, 9), KernelHeight = random.Next(1, 6), KernelWidth = random.Next(1, 6), OutHeight = 1, OutWidth = 1 };
            g.SetTiles(1);
            int taps = g.KernelHeight * g.KernelWidth;
            // Steps below, at and far above one channel's taps, so every digit of the step carries somewhere.
            int start = random.Next(0, 3 * taps + 5), step = random.Next(0, 4 * taps + 9);
            var cursor = default(TapCursor);
            var divider = default(TapDivider);
            cursor.Start(g, start, step);
            divider.Start(g, start, step);
            for (int i = 0, k = start; i < 60; i++, k += step)
            {
                int ci = k / taps, ky = k % taps / g.KernelWidth, kx = k % taps % g.KernelWidth;
                string where = $"kh {g.KernelHeight} kw {g.KernelWidth} start {start} step {step} row {k}";
                Assert.That((cursor.Channel, cursor.TapRow, cursor.TapColumn), Is.EqualTo((ci, ky, kx)), "cursor, " + where);
                Assert.That((divider.Channel, divider.TapRow, divider.TapColumn), Is.EqualTo((ci, ky, kx)), "divider, " + where);
                cursor.Advance(g);
                divider.Advance(g);
            }
        }
    }

    [Test]
    public void FastDivisorIsExactOverTheWholeNonNegativeRange()
    {
        var random = new Random(7);
        int[] divisors = [1, 2, 3, 5, 7, 9, 25, 64, 65, 127, 1000, 4095, 4097, 1 << 20, (1 << 20) + 1, 999_999_937, (1 << 30) - 1, 1 << 30, (1 << 30) + 1, int.MaxValue];
        foreach (int d in divisors.Concat(Enumerable.Range(0, 200).Select(_ => random.Next(1, int.MaxValue))))
        {
            var fast = FastDivisor.Of(d);
            // The edges (0, around multiples of d, the top of the range) and random dividends.
            var dividends = new[] { 0, 1, d - 1, d, d + 1, int.MaxValue, int.MaxValue - 1, int.MaxValue - d % int.MaxValue }
                .Concat(Enumerable.Range(1, 5).SelectMany(q => new[] { (long)q * d - 1, (long)q * d }).Where(n => n <= int.MaxValue).Select(n => (int)n))
                .Concat(Enumerable.Range(0, 500).Select(_ => random.Next(0, int.MaxValue)));
            foreach (int n in dividends.Where(n => n >= 0))
                Assert.That(fast.Divide(n), Is.EqualTo(n / d), $"{n} / {d}");
        }
    }

    [Test]
    public void FastDivisorRejectsZero() => Assert.Throws<ArgumentOutOfRangeException>(() => FastDivisor.Of(0));
}
