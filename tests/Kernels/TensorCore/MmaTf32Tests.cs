using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// The warp-level TF32 primitives against the PTX ISA's own statements: <c>cvt.rna.tf32.f32</c> rounding, and the
/// m16n8k8 <c>.tf32</c> fragment tables (which lane holds which A, B, C and D element), written out here
/// independently of the kernels' code.
/// </summary>
public class MmaTf32Tests
{
    // PTX ISA, "Matrix Fragments for mma.m16n8k8" (.tf32), with g = lane >> 2 and t = lane % 4.
    private static (int Row, int K) AElement(int lane, int i) => (lane / 4 + (i % 2 == 1 ? 8 : 0), lane % 4 + (i >= 2 ? 4 : 0));
    private static (int K, int Col) BElement(int lane, int i) => (lane % 4 + (i == 1 ? 4 : 0), lane / 4);
    private static (int Row, int Col) CElement(int lane, int i) => (lane / 4 + (i >= 2 ? 8 : 0), 2 * (lane % 4) + i % 2);

    /// <summary>Round to 11 significant bits, ties away from zero, computed in double from the definition.</summary>
    private static float RoundTf32Reference(float x)
    {
        if (!float.IsFinite(x) || x == 0) return x;
        double a = Math.Abs((double)x);
        int e = (int)Math.Floor(Math.Log2(a));
        if (Math.Pow(2, e) > a) e--;               // guard Log2 rounding
        else if (Math.Pow(2, e + 1) <= a) e++;
        double ulp = Math.Pow(2, e - 10);
        double r = Math.Floor(a / ulp + 0.5) * ulp; // a / ulp is exact (a power-of-two scaling)
        return (float)(Math.Sign(x) * r);           // past float.MaxValue: ±Inf, as the hardware rounds
    }

    [Test]
    public void RoundingMatchesCvtRnaTf32()
    {
        var values = TestData.Normal(20000, 11, 100f).Concat(TestData.Uniform(2000, 12, -1e-30f, 1e-30f)).ToList();
        // Ties: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10; rna goes away from zero on both signs.
        values.AddRange([1f + MathF.Pow(2, -11), -(1f + MathF.Pow(2, -11)), 1f + 3 * MathF.Pow(2, -11), float.MaxValue, -float.MaxValue, 65504f, 1.17549435e-38f]);
        foreach (var v in values)
        {
            float expected = RoundTf32Reference(v);
            float actual = Tf32.Round(v);
            Assert.That(BitConverter.SingleToUInt32Bits(actual), Is.EqualTo(BitConverter.SingleToUInt32Bits(expected)), $"round({v:R}) = {actual:R}, expected {expected:R}");
        }
        Assert.That(Tf32.Round(1f + MathF.Pow(2, -11)), Is.EqualTo(1f + MathF.Pow(2, -10)), "tie away from zero");
        Assert.That(Tf32.Round(float.MaxValue), Is.EqualTo(float.PositiveInfinity), "past the largest TF32 value");
        Assert.That(float.IsNaN(Tf32.Round(float.NaN)) && Tf32.Round(float.NegativeInfinity) == float.NegativeInfinity, Is.True, "NaN and Inf pass");
    }

    private sealed record Registers(float[] A, float[] B, float[] C);

    /// <summary>Distributes row-major A [16, 8], B [8, 8] (k × n) and C [16, 8] into per-lane registers by the ISA tables.</summary>
    private static Registers ToRegisters(float[] a, float[] b, float[] c)
    {
        var ra = new float[128]; var rb = new float[64]; var rc = new float[128];
        for (int lane = 0; lane < 32; lane++)
        {
            for (int i = 0; i < 4; i++)
            {
                var (row, k) = AElement(lane, i);
                ra[4 * lane + i] = a[row * 8 + k];
                var (cr, cc) = CElement(lane, i);
                rc[4 * lane + i] = c[cr * 8 + cc];
            }
            for (int i = 0; i < 2; i++)
            {
                var (k, col) = BElement(lane, i);
                rb[2 * lane + i] = b[k * 8 + col];
            }
        }
        return new Registers(ra, rb, rc);
    }

    private static float[] RunProbe(string device, Registers r)
    {
        var backend = TestBackends.Ilgpu(device);
        var acc = backend.Accelerator;
        using var da = acc.Allocate1D(r.A);
        using var db = acc.Allocate1D(r.B);
        using var dc = acc.Allocate1D(r.C);
        using var dd = acc.Allocate1D<float>(128);
        new MmaProbeKernels(acc).Run(backend.Stream, da.View, db.View, dc.View, dd.View);
        backend.Stream.Synchronize();
        return dd.GetAsArray1D();
    }

    private static double[] Reference(float[] a, float[] b, float[] c)
    {
        var d = new double[128];
        for (int row = 0; row < 16; row++)
            for (int col = 0; col < 8; col++)
            {
                double s = c[row * 8 + col];
                for (int k = 0; k < 8; k++) s += (double)a[row * 8 + k] * b[k * 8 + col];
                d[row * 8 + col] = s;
            }
        return d;
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void EachLaneHoldsTheDElementsTheIsaAssignsIt(string device)
    {
        // Every A, B and C element distinct; small integers, so every sum is exact in any order and D identifies
        // its (row, column) unambiguously (D[r][n] = 1000 r + n + Σ_k A·B with distinct row and column sums).
        var a = new float[128]; var b = new float[64]; var c = new float[128];
        for (int r = 0; r < 16; r++) for (int k = 0; k < 8; k++) a[r * 8 + k] = r * 8 + k + 1;
        for (int k = 0; k < 8; k++) for (int n = 0; n < 8; n++) b[k * 8 + n] = 3 * (k * 8 + n) + 1;
        for (int r = 0; r < 16; r++) for (int n = 0; n < 8; n++) c[r * 8 + n] = 1000 * r + n;
        var d = Reference(a, b, c);
        Assert.That(d.Distinct().Count(), Is.EqualTo(128), "the test's D elements are distinct");
        var lanes = RunProbe(device, ToRegisters(a, b, c));
        for (int lane = 0; lane < 32; lane++)
            for (int i = 0; i < 4; i++)
            {
                var (row, col) = CElement(lane, i);
                Assert.That(lanes[4 * lane + i], Is.EqualTo((float)d[row * 8 + col]), $"lane {lane} register d{i} should hold D[{row}][{col}]");
            }
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void RandomOperandsAreReadAsTf32AndAccumulatedInFp32(string device)
    {
        // Unrounded inputs: the tensor core ignores their low 13 mantissa bits, so the reference truncates them.
        // Products of TF32 values are exact in fp32; the 8-term sum plus C in fp32 differs from the double
        // reference by a few roundings of the partial sums (≤ 9 ε·Σ|terms| ≈ 2e-6 of max |D| here): the project's
        // fp32 bound of 1e-5 holds with room, while the truncation below moves results by over 1e-4.
        var a = TestData.Normal(128, 21); var b = TestData.Normal(64, 22); var c = TestData.Normal(128, 23);
        static float Trunc(float v) => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(v) & ~0x1FFFu);
        var d = Reference([.. a.Select(Trunc)], [.. b.Select(Trunc)], c);
        var lanes = RunProbe(device, ToRegisters(a, b, c));
        var expected = new float[128]; var actual = new float[128];
        for (int lane = 0; lane < 32; lane++)
            for (int i = 0; i < 4; i++)
            {
                var (row, col) = CElement(lane, i);
                expected[row * 8 + col] = (float)d[row * 8 + col];
                actual[row * 8 + col] = lanes[4 * lane + i];
            }
        Close.Assert(expected, actual, 1e-5, "mma m16n8k8 tf32");
        // And the truncation is real: the unrounded product differs by far more than that.
        var exact = Reference(a, b, c).Select(v => (float)v).ToArray();
        Assert.That(exact.Zip(actual).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-4), "inputs were not reduced to TF32");
    }
}
