using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class AttentionTests
{
    /// <summary>Naive attention in double with a max-subtracted softmax, independent of the kernels.</summary>
    private static float[] Reference(float[] q, float[] k, float[] v, int batch, int t, int s, int c, int heads, float scale)
    {
        int d = c / heads;
        var o = new float[batch * t * c];
        var scores = new double[s];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < t; i++)
                {
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < s; j++)
                    {
                        double dot = 0;
                        for (int x = 0; x < d; x++) dot += (double)q[(b * t + i) * c + h * d + x] * k[(b * s + j) * c + h * d + x];
                        scores[j] = dot * scale;
                        max = Math.Max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < s; j++) sum += scores[j] = Math.Exp(scores[j] - max);
                    for (int x = 0; x < d; x++)
                    {
                        double acc = 0;
                        for (int j = 0; j < s; j++) acc += scores[j] * v[(b * s + j) * c + h * d + x];
                        o[(b * t + i) * c + h * d + x] = (float)(acc / sum);
                    }
                }
        return o;
    }

    private static float[] Run(Backend backend, float[] q, float[] k, float[] v, int batch, int t, int s, int c, int heads, float scale)
    {
        using var tq = backend.Upload(q, new Shape(batch, t, c));
        using var tk = backend.Upload(k, new Shape(batch, s, c));
        using var tv = backend.Upload(v, new Shape(batch, s, c));
        using var to = backend.Allocate(batch, t, c);
        backend.Attention(tq, tk, tv, to, heads, scale);
        return to.ToArray();
    }

    private static (float[] q, float[] k, float[] v) Inputs(int batch, int t, int s, int c, int seed, float magnitude = 1f) =>
        (TestData.Normal(batch * t * c, seed, magnitude), TestData.Normal(batch * s * c, seed + 1, magnitude), TestData.Normal(batch * s * c, seed + 2));

    // batch, queries, keys, channels, heads: d = 1, 3, 5 (odd), heads > 1, T ≠ S, and shapes with SIMD tails,
    // 4-row/2-key register-block edges and several parallel query blocks.
    [TestCase(1, 1, 1, 1, 1)]
    [TestCase(2, 5, 7, 3, 1)]
    [TestCase(2, 7, 5, 10, 2)]
    [TestCase(1, 9, 13, 15, 3)]
    [TestCase(2, 70, 67, 96, 3)]
    [TestCase(1, 130, 257, 40, 2)]
    [TestCase(3, 37, 1100, 24, 1)]
    [TestCase(2, 16, 16, 64, 1)]
    public void CpuMatchesNaiveReference(int batch, int t, int s, int c, int heads)
    {
        var (q, k, v) = Inputs(batch, t, s, c, 10 + t);
        float scale = 1 / MathF.Sqrt(c / heads);
        Close.Assert(Reference(q, k, v, batch, t, s, c, heads, scale), Run(TestBackends.Cpu, q, k, v, batch, t, s, c, heads, scale), 1e-5, "cpu");
    }

    [TestCase(2, 9, 11, 5, 1)]
    [TestCase(1, 33, 70, 64, 2)]
    public void CpuIsStableForLargeScores(int batch, int t, int s, int c, int heads)
    {
        // Inputs × 30 give scores of several hundred: exp overflows float without the max subtraction.
        var (q, k, v) = Inputs(batch, t, s, c, 5, 30f);
        float scale = 1 / MathF.Sqrt(c / heads);
        var o = Run(TestBackends.Cpu, q, k, v, batch, t, s, c, heads, scale);
        Assert.That(o.All(float.IsFinite));
        // A score of magnitude ~500 carries a float rounding error of ~1e-4, which exp turns into a relative
        // error of the same size in the weights.
        Close.Assert(Reference(q, k, v, batch, t, s, c, heads, scale), o, 1e-3, "cpu ×30");
    }

    [Test]
    public void HeadsAreIndependent()
    {
        // Two heads over four channels differ from one head over the same channels.
        var (q, k, v) = Inputs(1, 3, 4, 4, 77, 3f);
        var twoHeads = Run(TestBackends.Cpu, q, k, v, 1, 3, 4, 4, 2, 0.5f);
        var oneHead = Run(TestBackends.Cpu, q, k, v, 1, 3, 4, 4, 1, 0.5f);
        Assert.That(twoHeads.Zip(oneHead).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-3));
        Close.Assert(Reference(q, k, v, 1, 3, 4, 4, 2, 0.5f), twoHeads, 1e-5, "two heads");
    }

    // Tiny shapes for the emulator: several key tiles (S > 64) and rows per group, partial query blocks, d odd,
    // d large enough for many threads per row, heads > 1. (batch, queries, keys, channels, heads, input magnitude)
    private static IEnumerable<object[]> TiledTiny() =>
    [
        [1, 3, 5, 6, 2, 1f], [2, 5, 3, 10, 2, 1f], [1, 3, 70, 8, 1, 30f], [1, 7, 9, 300, 1, 1f], [1, 40, 6, 6, 3, 1f],
    ];

    // Key chunks of 8 here (1024 by default): S = 20 runs three chunks with rescales.
    private static IEnumerable<object[]> RowwiseTiny() =>
    [
        [1, 3, 5, 6, 2, 1f], [2, 2, 7, 10, 2, 30f], [1, 2, 20, 4, 1, 1f], [1, 2, 20, 4, 1, 30f], [1, 2, 3, 600, 1, 1f],
    ];

    // The model shapes on CUDA: DDPM-CIFAR's 16×16 and 4×4 attention (d = 256), 8 heads of 64, long sequences.
    private static IEnumerable<object[]> CudaShapes() =>
    [
        [4, 256, 256, 256, 1, 1f], [8, 16, 16, 256, 1, 1f], [2, 1024, 1024, 512, 8, 1f], [1, 300, 2000, 128, 2, 30f], [3, 65, 129, 96, 3, 1f],
    ];

    private static IEnumerable<TestCaseData> TiledCases() => GpuTargets.Cases(TiledTiny(), CudaShapes());

    private static IEnumerable<TestCaseData> RowwiseCases() => GpuTargets.Cases(RowwiseTiny(), CudaShapes());

    [TestCaseSource(nameof(TiledCases))]
    public void TiledKernelMatchesCpu(int batch, int t, int s, int c, int heads, float magnitude, string device) =>
        CompareKernel(AttentionAlgorithm.Tiled, batch, t, s, c, heads, magnitude, device);

    [TestCaseSource(nameof(RowwiseCases))]
    public void RowwiseKernelMatchesCpu(int batch, int t, int s, int c, int heads, float magnitude, string device) =>
        CompareKernel(AttentionAlgorithm.Rowwise, batch, t, s, c, heads, magnitude, device);

    private static void CompareKernel(AttentionAlgorithm algorithm, int batch, int t, int s, int c, int heads, float magnitude, string device)
    {
        var (q, k, v) = Inputs(batch, t, s, c, 31 + s, magnitude);
        // Keys grow along the sequence, so later tiles raise the running max and the rescale is exercised.
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < s; j++)
                for (int x = 0; x < c; x++) k[(b * s + j) * c + x] *= 1 + 2f * j / s;
        float scale = 1 / MathF.Sqrt(c / heads);
        var expected = Run(TestBackends.Cpu, q, k, v, batch, t, s, c, heads, scale);
        var backend = TestBackends.Ilgpu(device);
        var accelerator = backend.Accelerator;
        var kernels = new AttentionKernels(accelerator, rowChunk: 8);
        using var bq = accelerator.Allocate1D(q);
        using var bk = accelerator.Allocate1D(k);
        using var bv = accelerator.Allocate1D(v);
        using var bo = accelerator.Allocate1D<float>(q.Length);
        var stream = backend.Stream;
        kernels.Run(stream, bq.View, bk.View, bv.View, bo.View, batch, t, s, c, heads, scale, algorithm);
        stream.Synchronize();
        // Both sum in float in different orders; ×30 inputs make the scores large (see CpuIsStableForLargeScores).
        Close.Assert(expected, bo.GetAsArray1D(), magnitude > 1 ? 1e-3 : 1e-5, $"{algorithm}");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void BackendUsesTheGpuKernels(string device)
    {
        var (q, k, v) = Inputs(2, 5, 6, 8, 3);
        Close.Assert(Run(TestBackends.Cpu, q, k, v, 2, 5, 6, 8, 2, 0.3f), Run(TestBackends.Get(device), q, k, v, 2, 5, 6, 8, 2, 0.3f), 1e-5, $"{device} backend");
    }

    [Test]
    public void AutoChoosesTiledUpToEightColumnsPerThread()
    {
        var kernels = new AttentionKernels(TestBackends.IlgpuCpu.Accelerator);
        int limit = 8 * Math.Min(256, TestBackends.IlgpuCpu.Accelerator.MaxNumThreadsPerGroup);
        Assert.That(kernels.Choose(256, 256), Is.EqualTo(AttentionAlgorithm.Tiled));
        Assert.That(kernels.Choose(3, 4096), Is.EqualTo(AttentionAlgorithm.Tiled));
        Assert.That(kernels.Choose(limit + 1, 256), Is.EqualTo(AttentionAlgorithm.Rowwise));
    }

    [Test]
    public void BadInputsAreRejected()
    {
        var b = TestBackends.Cpu;
        using var q = b.Allocate(2, 3, 6);
        using var k = b.Allocate(2, 4, 6);
        using var v = b.Allocate(2, 4, 6);
        using var o = b.Allocate(2, 3, 6);
        using var k5 = b.Allocate(2, 4, 5);
        using var v3 = b.Allocate(2, 3, 6);
        using var o4 = b.Allocate(2, 4, 6);
        var e = Assert.Throws<ArgumentException>(() => b.Attention(q, k, v, o, 4, 1f));
        Assert.That(e!.Message, Does.Contain("attention").And.Contain("4 heads"));
        var s = Assert.Throws<ShapeMismatchException>(() => b.Attention(q, k5, k5, o, 2, 1f));
        Assert.That(s!.Message, Does.Contain("attention").And.Contain("[2,3,6]").And.Contain("[2,4,5]"));
        Assert.Throws<ShapeMismatchException>(() => b.Attention(q, k, v3, o, 2, 1f));
        Assert.Throws<ShapeMismatchException>(() => b.Attention(q, k, v, o4, 2, 1f));
    }
}
