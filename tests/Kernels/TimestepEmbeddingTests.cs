using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class TimestepEmbeddingTests
{
    private static readonly float[] Timesteps = [0f, 1f, 17.5f, 999f];

    /// <summary>
    /// diffusers' get_timestep_embedding step by step, each tensor op rounded to float32 as PyTorch does
    /// (exponent = −ln(P)·arange; exponent /= half − shift; freqs = exp; args = t·freqs; args = scale·args;
    /// cat(sin, cos); flip halves; pad), with exp, sin and cos taken in double and rounded once.
    /// </summary>
    private static float[] Float32Reference(float[] t, int dim, bool flip, float shift, float scale = 1f, float maxPeriod = 10000f)
    {
        int half = dim / 2;
        float negLog = (float)-Math.Log(maxPeriod);
        var exponent = Enumerable.Range(0, half).Select(i => negLog * (float)i).ToArray();
        float divisor = (float)(half - (double)shift);
        exponent = exponent.Select(e => e / divisor).ToArray();
        var freqs = exponent.Select(e => (float)Math.Exp(e)).ToArray();
        var y = new float[t.Length * dim];
        for (int b = 0; b < t.Length; b++)
        {
            var args = freqs.Select(f => scale * (t[b] * f)).ToArray();
            var sin = args.Select(a => (float)Math.Sin(a));
            var cos = args.Select(a => (float)Math.Cos(a));
            var row = (flip ? cos.Concat(sin) : sin.Concat(cos)).ToArray();
            row.CopyTo(y, b * dim); // an odd dim leaves the zero pad column
        }
        return y;
    }

    /// <summary>The exact embedding in double, with no float32 rounding anywhere.</summary>
    private static double[] ExactReference(float[] t, int dim, bool flip, float shift)
    {
        int half = dim / 2;
        var y = new double[t.Length * dim];
        for (int b = 0; b < t.Length; b++)
            for (int i = 0; i < half; i++)
            {
                double arg = t[b] * Math.Exp(-Math.Log(10000.0) * i / (half - (double)shift));
                y[b * dim + (flip ? half : 0) + i] = Math.Sin(arg);
                y[b * dim + (flip ? 0 : half) + i] = Math.Cos(arg);
            }
        return y;
    }

    private static float[] Run(Backend backend, float[] t, int dim, bool flip, float shift, float scale = 1f, float maxPeriod = 10000f)
    {
        using var tt = backend.Upload(t, new Shape(t.Length));
        using var y = backend.Allocate(t.Length, dim);
        backend.TimestepEmbedding(tt, y, flip, shift, scale, maxPeriod);
        return y.ToArray();
    }

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (int dim in new[] { 32, 33, 128 })
            foreach (bool flip in new[] { false, true })
                foreach (float shift in new[] { 0f, 1f })
                    yield return new TestCaseData(dim, flip, shift);
    }

    // Values are sines and cosines (max |ref| = 1), so Close's relative bound is an absolute one here.
    // Both sides take the same float32 steps and round exp/sin/cos once from double: they agree to ~1 ulp.
    [TestCaseSource(nameof(Cases))]
    public void CpuMatchesFloat32StepsOfDiffusers(int dim, bool flip, float shift)
    {
        var actual = Run(TestBackends.Cpu, Timesteps, dim, flip, shift);
        Close.Assert(Float32Reference(Timesteps, dim, flip, shift), actual, 1e-6, "embedding");
        if (dim % 2 == 1)
            for (int b = 0; b < Timesteps.Length; b++) Assert.That(actual[b * dim + dim - 1], Is.EqualTo(0f), "odd dim pads a zero column");
    }

    /// <summary>
    /// Against exact math the float32 pipeline itself is off by up to ~2e-7·t: the exponent carries three
    /// float roundings (relative ~1.5e-7, so freq·|e|·1.5e-7 ≤ 0.37·1.5e-7 relative after exp, since
    /// |e|·e^−|e| ≤ 1/e), exp rounds (6e-8) and t·freq rounds (6e-8), each scaled by t in arg; sin/cos pass
    /// the arg error through with slope ≤ 1. So the bound is 2e-7·t + 1e-6: at t = 999 that is 2e-4 (arg is
    /// near 1000, where one float ulp is 6e-5, so no float32 implementation, PyTorch's included, gets 1e-5),
    /// and at t ≤ 1 it is ~1e-6.
    /// </summary>
    [TestCaseSource(nameof(Cases))]
    public void CpuMatchesExactMathWithinFloat32Error(int dim, bool flip, float shift)
    {
        var actual = Run(TestBackends.Cpu, Timesteps, dim, flip, shift);
        var exact = ExactReference(Timesteps, dim, flip, shift);
        double worstAtLargestT = 0;
        for (int j = 0; j < actual.Length; j++)
        {
            float t = Timesteps[j / dim];
            double error = Math.Abs(actual[j] - exact[j]);
            Assert.That(error, Is.LessThanOrEqualTo(2e-7 * t + 1e-6), $"element {j} (t = {t})");
            if (t == 999f) worstAtLargestT = Math.Max(worstAtLargestT, error);
        }
        // The float rounding is real: at t = 999 the embedding is measurably off exact math.
        Assert.That(worstAtLargestT, Is.GreaterThan(1e-6));
    }

    private static IEnumerable<TestCaseData> IlgpuCases() =>
        GpuTargets.Cases(from dim in new[] { 33, 128 } from flip in new[] { false, true } from shift in new[] { 0f, 1f } select new object[] { dim, flip, shift });

    /// <summary>
    /// Identical bits on the emulator; on CUDA ptxas may contract the double polynomials into FMAs (~1e-16 apart),
    /// which can flip a rare float rounding, so 1e-6 there.
    /// </summary>
    private static void AssertMatches(float[] cpu, float[] gpu, string device, string what)
    {
        if (device == "cuda") Close.Assert(cpu, gpu, 1e-6, what);
        else Close.Identical(cpu, gpu, what);
    }

    // The kernel evaluates exp, sin and cos by its own double polynomials (not XMath's float approximations),
    // the CPU by libm in double. Both are within ~1e-16 of exact before the one rounding to float, so they
    // round to the same float unless a value falls within 1e-16 of a rounding boundary (odds ~1e-9 per
    // element): the test demands identical bits, which also catches polynomial errors far below 1e-6.
    [TestCaseSource(nameof(IlgpuCases))]
    public void IlgpuMatchesCpu(int dim, bool flip, float shift, string device) =>
        AssertMatches(Run(TestBackends.Cpu, Timesteps, dim, flip, shift), Run(TestBackends.Get(device), Timesteps, dim, flip, shift), device, "embedding");

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void IlgpuMatchesCpuOnRandomTimestepsScaleAndPeriod(string device)
    {
        // Arguments up to 2·1000 and negative timesteps exercise the kernel's range reduction in every quadrant.
        var t = TestData.Uniform(64, 11, -1000f, 1000f);
        AssertMatches(Run(TestBackends.Cpu, t, 20, false, 1f, 2f, 100f), Run(TestBackends.Get(device), t, 20, false, 1f, 2f, 100f), device, "embedding");
    }

    [Test, Category(GpuTargets.Category)]
    public void CudaMatchesCpuOnABatchOf256()
    {
        var t = TestData.Uniform(256, 12, 0f, 1000f);
        foreach (bool flip in new[] { false, true })
            AssertMatches(Run(TestBackends.Cpu, t, 129, flip, 1f), Run(TestBackends.Cuda, t, 129, flip, 1f), "cuda", $"embedding, flip {flip}");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void BadShapesNameTheOp(string device)
    {
        var b = TestBackends.Get(device);
        using var t = b.Allocate(3);
        using var wrongRows = b.Allocate(4, 8);
        var e = Assert.Throws<ShapeMismatchException>(() => b.TimestepEmbedding(t, wrongRows, false, 1f))!;
        Assert.That(e.Message, Does.Contain("timestep embedding").And.Contain("[3]").And.Contain("[4,8]"));
        using var narrow = b.Allocate(3, 1);
        Assert.Throws<ShapeMismatchException>(() => b.TimestepEmbedding(t, narrow, false, 1f));
        using var t2 = b.Allocate(3, 1);
        using var y = b.Allocate(3, 8);
        Assert.Throws<ShapeMismatchException>(() => b.TimestepEmbedding(t2, y, false, 1f));
    }
}
