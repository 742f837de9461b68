using DiffusionKernels.Kernels.Cpu;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class SgemmTests
{
    // Shapes around the micro-tile (6×16 / 12×32), cache-block (MC 144, KC 192/256, NC 2048) and parallel-split edges.
    private static readonly int[][] Shapes =
    [
        [1, 1, 1], [7, 13, 5], [1, 77, 50], [13, 1, 300], [12, 32, 8], [65, 33, 129],
        [300, 200, 100], [250, 40, 30], [8, 600, 300], [100, 100, 513], [37, 2100, 20],
    ];

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var s in Shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    yield return new TestCaseData(s[0], s[1], s[2], ta, tb).SetName($"Sgemm {s[0]}x{s[1]}x{s[2]} transA={ta} transB={tb}");
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesNaiveLoop(int m, int n, int k, bool transA, bool transB)
    {
        // beta = 0 must ignore whatever C held (NaN here); then accumulate with beta = 0.5 and a negative alpha.
        Check(m, n, k, transA, transB, alpha: 1f, beta: 0f, pad: 0, seed: 1);
        Check(m, n, k, transA, transB, alpha: -0.75f, beta: 0.5f, pad: 3, seed: 2);
        Check(m, n, k, transA, transB, alpha: 2f, beta: 1f, pad: 1, seed: 3);
    }

    [Test]
    public void ZeroKOrZeroAlphaOnlyScalesC()
    {
        var c = TestData.Normal(6, 4);
        var expected = c.Select(v => v * 0.5f).ToArray();
        Sgemm.Multiply(false, false, 2, 3, 0, 1f, [], 0, [], 3, 0.5f, c, 3);
        Close.Assert(expected, c, 0, "k = 0");
        var d = Enumerable.Repeat(float.NaN, 6).ToArray();
        Sgemm.Multiply(false, false, 2, 3, 4, 0f, new float[8], 4, new float[12], 3, 0f, d, 3);
        Assert.That(d, Is.All.EqualTo(0f), "alpha = 0, beta = 0 writes zeros");
    }

    [Test]
    public void SteadyStateCallsDoNotAllocate()
    {
        // Small enough to stay on this thread, so every allocation would show on its counter.
        var a = TestData.Normal(40 * 30, 5); var b = TestData.Normal(30 * 50, 6); var c = new float[40 * 50];
        Sgemm.Multiply(false, true, 40, 50, 30, 1f, a, 30, b, 30, 0f, c, 50);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Sgemm.Multiply(false, true, 40, 50, 30, 1f, a, 30, b, 30, 0f, c, 50);
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void ShortSpansAndBadLeadingDimensionsThrow()
    {
        var a = new float[6]; var b = new float[6]; var c = new float[4];
        Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 2, 2, 3, 1f, a, 3, b.AsSpan(0, 5), 2, 0f, c, 2));
        Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 2, 2, 3, 1f, a, 2, b, 2, 0f, c, 2));
        Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, c.AsSpan(0, 3), 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sgemm.Multiply(false, false, -1, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
    }

    private static void Check(int m, int n, int k, bool transA, bool transB, float alpha, float beta, int pad, int seed)
    {
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
        var a = TestData.Normal((long)aRows * lda, seed);
        var b = TestData.Normal((long)bRows * ldb, seed + 100);
        var c = beta == 0 ? Enumerable.Repeat(float.NaN, m * ldc).ToArray() : TestData.Normal((long)m * ldc, seed + 200);
        var expected = (float[])c.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)(transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                expected[i * ldc + j] = (float)(alpha * s + (beta == 0 ? 0 : beta * (double)c[i * ldc + j]));
            }
        Sgemm.Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        // Padding columns of C must be untouched; compare them too (expected keeps the originals, NaN-safe by bits).
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                Assert.That(BitConverter.SingleToInt32Bits(c[i * ldc + j]), Is.EqualTo(BitConverter.SingleToInt32Bits(expected[i * ldc + j])), "padding of C was written");
        var got = Dense(c, m, n, ldc);
        // K up to 513 products of N(0,1) values: fp32 rounding grows like √K·ε relative to |C|max; 2e-5 covers K = 513.
        Close.Assert(Dense(expected, m, n, ldc), got, k > 256 ? 2e-5 : 1e-5, $"alpha={alpha} beta={beta} pad={pad}");
    }

    private static float[] Dense(float[] c, int m, int n, int ldc)
    {
        var d = new float[m * n];
        for (int i = 0; i < m; i++) Array.Copy(c, i * ldc, d, i * n, n);
        return d;
    }
}
