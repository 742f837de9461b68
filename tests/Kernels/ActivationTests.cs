using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Cpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using MathNet.Numerics;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class ActivationTests
{
    public static readonly Activation[] All = Enum.GetValues<Activation>();

    /// <summary>The activation in double precision, written from the definitions (PyTorch's formulas).</summary>
    public static double Reference(double x, Activation a) => a switch
    {
        Activation.Identity => x,
        Activation.SiLU => x / (1 + Math.Exp(-x)),
        Activation.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        // Φ(x) through erfc so the double reference keeps its own relative accuracy in the negative tail.
        Activation.GeluExact => 0.5 * x * SpecialFunctions.Erfc(-x / Math.Sqrt(2)),
        Activation.Mish => x * Math.Tanh(x > 30 ? x : Math.Log(1 + Math.Exp(x))),
        Activation.Relu => double.IsNaN(x) ? x : Math.Max(x, 0),
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    /// <summary>
    /// Element-wise |actual − expected| ≤ rel·|expected| + abs. The float formulas evaluate exponentials of
    /// arguments up to ~20 in size, which costs ~|arg|·2⁻²⁴ relative; 4e-6 covers that with room to spare.
    /// </summary>
    public static void AssertElementwise(float[] input, float[] actual, Activation a, double rel = 4e-6, double abs = 1e-10)
    {
        for (int i = 0; i < input.Length; i++)
        {
            double e = Reference(input[i], a);
            if (double.IsNaN(e))
            {
                Assert.That(actual[i], Is.NaN, $"{a}({input[i]}) at {i}");
                continue;
            }
            Assert.That(Math.Abs(actual[i] - e), Is.LessThanOrEqualTo(rel * Math.Abs(e) + abs), $"{a}({input[i]:R}) at {i}: expected {e:R}, got {actual[i]:R}");
        }
    }

    private static readonly float[] Extremes = [-40f, -20f, -12f, -8f, -5f, -2f, -1f, -0.5f, -1e-3f, -0f, 0f, 1e-3f, 0.5f, 1f, 2f, 5f, 8f, 12f, 20f, 40f, float.NaN, -88f, 88f, 1.4142f, -1.4142f];

    [Test]
    public void ReductionCodesMatchTheRuntimeEnum()
    {
        Assert.That(new[] { Reductions.Mean, Reductions.Std, Reductions.MaxAbs, Reductions.NonFiniteCount },
            Is.EqualTo(Enum.GetValues<Reduction>().Select(r => (int)r).ToArray()));
    }

    [TestCaseSource(nameof(All))]
    public void ScalarMathMatchesTheDoubleReferenceAndTheSimdTwin(Activation a)
    {
        // ActivationMath is what the GPU kernels and the CPU Linear epilogue run; Activations is the SIMD twin.
        var x = Extremes.Concat(TestData.Normal(4001, 17, 6f)).ToArray();
        var scalar = x.Select(v => ActivationMath.Apply(v, a)).ToArray();
        AssertElementwise(x, scalar, a);
        var simd = new float[x.Length];
        Activations.Forward(x, simd, a);
        for (int i = 0; i < x.Length; i++)
            Assert.That(Math.Abs(scalar[i] - simd[i]), Is.LessThanOrEqualTo(4e-6 * Math.Abs(simd[i]) + 1e-10).Or.NaN, $"{a}({x[i]:R}): simd {simd[i]:R}, scalar {scalar[i]:R}");
        Assert.That(scalar.Select(float.IsNaN), Is.EqualTo(simd.Select(float.IsNaN)), "NaN positions");
    }

    [Test]
    public void UnknownActivationIsRejectedByTheBackend()
    {
        using var x = TestBackends.Cpu.Allocate(2, 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TestBackends.Cpu.Activate(x, x, (Activation)17));
        Assert.That(e!.Message, Does.Contain("activation").And.Contain("17"));
    }

    [Test]
    public void ErfMatchesMathNetToAboutOneULP()
    {
        double worst = 0;
        for (int i = -80000; i <= 80000; i++)
        {
            float x = i * 1e-4f;
            worst = Math.Max(worst, Math.Abs(Activations.Erf(x) - SpecialFunctions.Erf(x)));
        }
        // 1e-7 of approximation and one float rounding of values just below 1 (ulp 6e-8).
        Assert.That(worst, Is.LessThanOrEqualTo(1.5e-7));
        Assert.That(Activations.Erf(float.NaN), Is.NaN);
        Assert.That(Activations.Erf(40f), Is.EqualTo(1f));
        Assert.That(Activations.Erf(-40f), Is.EqualTo(-1f));
    }

    [TestCaseSource(nameof(All))]
    public void ExtremeInputsAndNaN(Activation a)
    {
        var y = Extremes.Select(v => Activations.Apply(v, a)).ToArray();
        AssertElementwise(Extremes, y, a);
        Assert.That(y.Where((v, i) => !float.IsNaN(Extremes[i])), Is.All.Not.NaN, "no NaN from a finite input");
    }

    [Test]
    public void GeluExactTailIsRelativelyAccurate()
    {
        // x·Φ(x) for x down to −12 (|y| ≈ 1e-32) within 1e-5 relative, not just absolutely small.
        var x = Enumerable.Range(0, 1100).Select(i => -1 - i * 0.01f).ToArray();
        var y = new float[x.Length];
        Activations.Forward(x, y, Activation.GeluExact);
        AssertElementwise(x, y, Activation.GeluExact, rel: 1e-5, abs: 0);
    }

    [TestCaseSource(nameof(All))]
    public void CpuMatchesDoubleReferenceOnVectorBodyTailAndParallelPath(Activation a)
    {
        foreach (int n in new[] { 1, 7, 1001, 100_003 })
        {
            var x = TestData.Normal(n, n, 3f);
            using var t = TestBackends.Cpu.Upload(x, new Shape(n));
            using var y = TestBackends.Cpu.Allocate(n);
            TestBackends.Cpu.Activate(t, y, a);
            AssertElementwise(x, y.ToArray(), a);
        }
    }

    [Test]
    public void InPlaceOnCpu()
    {
        var x = TestData.Normal(4099, 5, 2f);
        using var t = TestBackends.Cpu.Upload(x, new Shape(4099));
        TestBackends.Cpu.Activate(t, t, Activation.SiLU);
        AssertElementwise(x, t.ToArray(), Activation.SiLU);
    }

    private static IEnumerable<TestCaseData> GpuActivations() => GpuTargets.Cases(All);

    [TestCaseSource(nameof(GpuActivations))]
    public void IlgpuEmulatorMatchesCpu(Activation a, string device)
    {
        var x = TestData.Normal(device == "cuda" ? 1 << 20 : 3 * 7 * 5, 11, 4f).Concat(Extremes).ToArray();
        var shape = new Shape(x.Length);
        using var xc = TestBackends.Cpu.Upload(x, shape);
        using var yc = TestBackends.Cpu.Allocate(shape);
        TestBackends.Cpu.Activate(xc, yc, a);
        var g = TestBackends.Get(device);
        using var xg = g.Upload(x, shape);
        using var yg = g.Allocate(shape);
        g.Activate(xg, yg, a);
        var expected = yc.ToArray();
        var actual = yg.ToArray();
        for (int i = 0; i < x.Length; i++)
            Assert.That(Math.Abs(actual[i] - expected[i]), Is.LessThanOrEqualTo(4e-6 * Math.Abs(expected[i]) + 1e-10).Or.NaN,
                $"{a}({x[i]:R}): cpu {expected[i]:R}, ilgpu {actual[i]:R}");
        Assert.That(actual.Select(float.IsNaN), Is.EqualTo(expected.Select(float.IsNaN)), "NaN positions");
    }

    [Test]
    public void ShapeMismatchNamesTheOp()
    {
        using var x = TestBackends.Cpu.Allocate(2, 3);
        using var y = TestBackends.Cpu.Allocate(3, 2);
        var e = Assert.Throws<ShapeMismatchException>(() => TestBackends.Cpu.Activate(x, y, Activation.SiLU));
        Assert.That(e!.Message, Does.Contain("activation").And.Contain("[2,3]"));
    }
}
