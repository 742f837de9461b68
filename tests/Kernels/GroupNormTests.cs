using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class GroupNormTests
{
    /// <summary>Naive double-precision group norm (two-pass moments) followed by the double activation.</summary>
    private static float[] Reference(float[] x, float[] gamma, float[] beta, int[] dims, int groups, double eps, Activation a)
    {
        int n = dims[0], c = dims[1];
        int spatial = (int)(x.Length / ((long)n * c)), cpg = c / groups;
        var y = new float[x.Length];
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++)
            {
                long start = ((long)b * c + g * cpg) * spatial, len = (long)cpg * spatial;
                double mean = 0, variance = 0;
                for (long i = 0; i < len; i++) mean += x[start + i];
                mean /= len;
                for (long i = 0; i < len; i++) variance += (x[start + i] - mean) * (x[start + i] - mean);
                variance /= len;
                double rstd = 1 / Math.Sqrt(variance + eps);
                for (long i = 0; i < len; i++)
                {
                    int ch = g * cpg + (int)(i / spatial);
                    y[start + i] = (float)ActivationTests.Reference((x[start + i] - mean) * rstd * gamma[ch] + beta[ch], a);
                }
            }
        return y;
    }

    private static float[] Run(Backend backend, float[] x, float[] gamma, float[] beta, int[] dims, int groups, float eps, Activation a, bool inPlace = false)
    {
        using var xt = backend.Upload(x, new Shape(dims));
        using var gt = backend.Upload(gamma, new Shape(dims[1]));
        using var bt = backend.Upload(beta, new Shape(dims[1]));
        using var yt = inPlace ? null : backend.Allocate(new Shape(dims));
        backend.GroupNorm(xt, gt, bt, yt ?? xt, groups, eps, a);
        return (yt ?? xt).ToArray();
    }

    private static (float[] X, float[] Gamma, float[] Beta) Inputs(int[] dims, int seed, float offset = 0f)
    {
        long length = dims.Aggregate(1L, (p, d) => p * d);
        var x = TestData.Normal(length, seed, 2f).Select(v => v + offset).ToArray();
        var gamma = TestData.Uniform(dims[1], seed + 1, 0.5f, 1.5f);
        var beta = TestData.Uniform(dims[1], seed + 2, -0.5f, 0.5f);
        return (x, gamma, beta);
    }

    private static IEnumerable<TestCaseData> CpuCases()
    {
        yield return new TestCaseData(new[] { 1, 3, 7, 5 }, 1, Activation.Identity);
        yield return new TestCaseData(new[] { 1, 3, 7, 5 }, 3, Activation.SiLU);
        yield return new TestCaseData(new[] { 2, 32, 9, 9 }, 8, Activation.SiLU);
        yield return new TestCaseData(new[] { 2, 32, 9, 9 }, 32, Activation.GeluExact);
        yield return new TestCaseData(new[] { 2, 6, 11 }, 2, Activation.Mish); // rank 3
        yield return new TestCaseData(new[] { 3, 8 }, 4, Activation.Relu); // rank 2: one position per channel
        yield return new TestCaseData(new[] { 2, 64, 33, 35 }, 32, Activation.SiLU); // parallel path, row tails
        yield return new TestCaseData(new[] { 1, 4, 200, 201 }, 1, Activation.GeluTanh); // one 160800-element group
    }

    [TestCaseSource(nameof(CpuCases))]
    public void CpuMatchesNaiveDoubleLoop(int[] dims, int groups, Activation a)
    {
        var (x, gamma, beta) = Inputs(dims, dims.Sum() + groups);
        Close.Assert(Reference(x, gamma, beta, dims, groups, 1e-5, a), Run(TestBackends.Cpu, x, gamma, beta, dims, groups, 1e-5f, a), what: $"group norm {a}");
    }

    [Test]
    public void CpuVarianceSurvivesALargeMean()
    {
        // Mean 1000, σ 2: a naive float E[x²] − E[x]² would lose every digit of the variance.
        int[] dims = [2, 8, 64, 65];
        var (x, gamma, beta) = Inputs(dims, 3, offset: 1000f);
        Close.Assert(Reference(x, gamma, beta, dims, 4, 1e-6, Activation.Identity), Run(TestBackends.Cpu, x, gamma, beta, dims, 4, 1e-6f, Activation.Identity));
    }

    [Test]
    public void CpuInPlace()
    {
        int[] dims = [2, 32, 9, 9];
        var (x, gamma, beta) = Inputs(dims, 4);
        Close.Assert(Reference(x, gamma, beta, dims, 8, 1e-5, Activation.SiLU), Run(TestBackends.Cpu, x, gamma, beta, dims, 8, 1e-5f, Activation.SiLU, inPlace: true));
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void ConstantGroupGivesBeta(string device)
    {
        int[] dims = [1, 4, 3, 3];
        var x = Enumerable.Repeat(0.1f, 36).ToArray();
        var gamma = new float[] { 1, 2, 3, 4 };
        var beta = new float[] { -1, 0, 1, 2 };
        // Zero variance: 1/√eps multiplies x − μ = 0 exactly, so nothing is left but β.
        foreach (var backend in new[] { TestBackends.Get(device) })
            Close.Identical(Enumerable.Range(0, 36).Select(i => beta[i / 9]).ToArray(), Run(backend, x, gamma, beta, dims, 2, 1e-5f, Activation.Identity), backend.Name);
    }

    private static IEnumerable<object[]> EmulatorCases() =>
    [
        [new[] { 1, 3, 7, 5 }, 1, Activation.Identity],
        [new[] { 1, 3, 7, 5 }, 3, Activation.SiLU],
        [new[] { 2, 6, 5, 3 }, 2, Activation.GeluTanh],
        [new[] { 2, 4, 9, 11 }, 2, Activation.GeluExact], // 198 per group: several warps
        [new[] { 1, 2, 23, 23 }, 1, Activation.Mish],     // 1058 per group: more elements than threads
        [new[] { 2, 6, 5 }, 3, Activation.Relu],
    ];

    // On CUDA the kernel runs 512-thread groups (16 warps, more than the emulator's 256): groups of 513 to 32k elements,
    // DDPM-CIFAR's GroupNorm(32) at 32×32 and 4×4, and a large mean.
    private static IEnumerable<object[]> CudaCases() =>
    [
        [new[] { 2, 3, 19, 27 }, 1, Activation.SiLU],
        [new[] { 16, 128, 32, 32 }, 32, Activation.SiLU],
        [new[] { 8, 256, 4, 4 }, 32, Activation.Identity],
        [new[] { 4, 64, 64, 64 }, 2, Activation.GeluExact],
        [new[] { 2, 9, 513 }, 9, Activation.Mish],
    ];

    private static IEnumerable<TestCaseData> GpuCases() => GpuTargets.Cases(EmulatorCases(), CudaCases());

    [TestCaseSource(nameof(GpuCases))]
    public void IlgpuEmulatorMatchesCpu(int[] dims, int groups, Activation a, string device)
    {
        var (x, gamma, beta) = Inputs(dims, 7 + groups, offset: 3f);
        Close.Assert(Run(TestBackends.Cpu, x, gamma, beta, dims, groups, 1e-5f, a), Run(TestBackends.Get(device), x, gamma, beta, dims, groups, 1e-5f, a), what: $"{device} group norm {a}");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void VarianceSurvivesAnOutlyingFirstElement(string device)
    {
        // One 16384-element group whose first element is 1000 (the rest N(0, 1)): centring the one-pass sums on that
        // element leaves E[(x−K)²] ≈ 1e6 to cancel against (E[x−K])² for a variance of ≈ 62, losing ~3 digits in float.
        // Both twins centre on the mean of the first 64 elements instead (≈ 16 here).
        int[] dims = [2, 4, 64, 64];
        var (x, gamma, beta) = Inputs(dims, 11);
        x[0] = 1000f;
        x[4 * 64 * 64] = -700f;
        Close.Assert(Reference(x, gamma, beta, dims, 1, 1e-5, Activation.Identity), Run(TestBackends.Get(device), x, gamma, beta, dims, 1, 1e-5f, Activation.Identity),
            what: $"{device} group norm, outlying first element");
    }

    [Test]
    public void ChannelsNotDivisibleByGroupsNamesTheOp()
    {
        using var x = TestBackends.Cpu.Allocate(1, 6, 2, 2);
        using var g = TestBackends.Cpu.Allocate(6);
        using var b = TestBackends.Cpu.Allocate(6);
        var e = Assert.Throws<ArgumentException>(() => TestBackends.Cpu.GroupNorm(x, g, b, x, 4, 1e-5f));
        Assert.That(e!.Message, Does.Contain("group norm").And.Contain("6 channels"));
    }

    [Test]
    public void WrongWeightLengthNamesTheOp()
    {
        using var x = TestBackends.Cpu.Allocate(1, 6, 2, 2);
        using var g = TestBackends.Cpu.Allocate(5);
        using var b = TestBackends.Cpu.Allocate(6);
        var e = Assert.Throws<ShapeMismatchException>(() => TestBackends.Cpu.GroupNorm(x, g, b, x, 3, 1e-5f));
        Assert.That(e!.Message, Does.Contain("group norm").And.Contain("weight"));
    }
}
