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
            var g = new Conv2dGeometry { InChannels = random.Next(1, 9), KernelHeight = random.Next(1, 6), KernelWidth = random.Next(1, 6) };
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
}
