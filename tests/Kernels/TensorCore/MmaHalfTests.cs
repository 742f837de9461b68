using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// The 16-bit tensor-core primitives against the PTX ISA's own statements: fp32 → fp16/bf16 rounding
/// (<c>cvt.rn.f16x2.f32</c>, <c>cvt.rn.bf16x2.f32</c>: nearest even, fp16 subnormals, overflow to Inf, NaN kept) and
/// the m16n8k16 <c>.f16</c>/<c>.bf16</c> fragment tables, written out here independently of the kernels' code.
/// </summary>
public class MmaHalfTests
{
    // PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type", g = lane >> 2, t = lane % 4, element i of
    // the lane's packed values (two per register, i even in the low half).
    private static (int Row, int K) AElement(int lane, int i) =>
        (lane / 4 + (i < 2 || (i >= 4 && i < 6) ? 0 : 8), 2 * (lane % 4) + (i & 1) + (i >= 4 ? 8 : 0));
    private static (int K, int Col) BElement(int lane, int i) => (2 * (lane % 4) + (i & 1) + (i >= 2 ? 8 : 0), lane / 4);
    private static (int Row, int Col) CElement(int lane, int i) => (lane / 4 + (i >= 2 ? 8 : 0), 2 * (lane % 4) + i % 2);

    /// <summary>Round to <paramref name="bits"/> significant bits, ties to even, with the format's subnormal step and overflow, in double.</summary>
    private static float RoundReference(float x, int bits, int minExponent, double maxFinite)
    {
        if (float.IsNaN(x) || float.IsInfinity(x) || x == 0) return x;
        double a = Math.Abs((double)x);
        int e = Math.Max(Math.ILogB(a), minExponent);          // subnormals share the smallest exponent's step
        double ulp = Math.ScaleB(1.0, e - (bits - 1));
        double q = a / ulp, r = Math.Floor(q);                  // exact: a power-of-two scaling
        if (q - r > 0.5 || (q - r == 0.5 && r % 2 == 1)) r++;
        double rounded = r * ulp;
        // Past the largest finite value: Inf once the value reaches halfway to the next power step (what RNE gives).
        if (rounded > maxFinite) return x > 0 ? float.PositiveInfinity : float.NegativeInfinity;
        return (float)(Math.Sign(x) * rounded);
    }

    internal static float RoundFp16(float x) => RoundReference(x, 11, -14, 65504.0);

    internal static float RoundBf16(float x) => RoundReference(x, 8, -126, (double)BitConverter.UInt32BitsToSingle(0x7F7F0000u));

    private static IEnumerable<float> RoundingInputs()
    {
        var values = TestData.Normal(20000, 11, 100f).Concat(TestData.Normal(4000, 12, 1e5f))
            .Concat(TestData.Uniform(4000, 13, -1e-4f, 1e-4f)).Concat(TestData.Uniform(2000, 14, -1e-7f, 1e-7f))
            .Concat(TestData.Uniform(1000, 15, -1e-38f, 1e-38f)).ToList();
        float h = MathF.Pow(2, -11);
        values.AddRange([1f + h, -(1f + h), 1f + 3 * h, 65504f, 65519.99f, 65520f, -65520f, 1e6f, float.MaxValue, -float.MaxValue,
            MathF.Pow(2, -24), MathF.Pow(2, -25), 1.5f * MathF.Pow(2, -25), MathF.Pow(2, -25) * 1.0000001f, 3 * MathF.Pow(2, -25), MathF.Pow(2, -14),
            MathF.Pow(2, -14) - MathF.Pow(2, -25), 1f + MathF.Pow(2, -8), 1f + 3 * MathF.Pow(2, -8), 1.17549435e-38f, 1e-45f, -0f]);
        return values;
    }

    [Test]
    public void Fp16RoundingMatchesCvtRnF16()
    {
        foreach (var v in RoundingInputs())
        {
            float expected = RoundFp16(v);
            float actual = HalfBits.Fp16ToFloat(HalfBits.ToFp16(v));
            Assert.That(BitConverter.SingleToUInt32Bits(actual), Is.EqualTo(BitConverter.SingleToUInt32Bits(expected)), $"fp16({v:R}) = {actual:R}, expected {expected:R}");
            // .NET's own correctly rounded conversion agrees bit for bit.
            Assert.That(HalfBits.ToFp16(v), Is.EqualTo((uint)BitConverter.HalfToUInt16Bits((System.Half)v)), $"fp16 bits of {v:R} vs System.Half");
        }
        Assert.That(HalfBits.Fp16ToFloat(HalfBits.ToFp16(65520f)), Is.EqualTo(float.PositiveInfinity), "past 65504 + half an ulp: Inf, not saturated");
        Assert.That(HalfBits.Fp16ToFloat(HalfBits.ToFp16(MathF.Pow(2, -25))), Is.EqualTo(0f), "a tie at half the smallest subnormal goes to even (0)");
        Assert.That(float.IsNaN(HalfBits.Fp16ToFloat(HalfBits.ToFp16(float.NaN))), Is.True, "NaN stays NaN");
        Assert.That(HalfBits.Fp16ToFloat(HalfBits.ToFp16(float.NegativeInfinity)), Is.EqualTo(float.NegativeInfinity));
    }

    [Test]
    public void Bf16RoundingMatchesCvtRnBf16()
    {
        foreach (var v in RoundingInputs())
        {
            float expected = RoundBf16(v);
            float actual = HalfBits.Bf16ToFloat(HalfBits.ToBf16(v));
            Assert.That(BitConverter.SingleToUInt32Bits(actual), Is.EqualTo(BitConverter.SingleToUInt32Bits(expected)), $"bf16({v:R}) = {actual:R}, expected {expected:R}");
        }
        Assert.That(HalfBits.Bf16ToFloat(HalfBits.ToBf16(1f + MathF.Pow(2, -8))), Is.EqualTo(1f), "tie to even (down)");
        Assert.That(HalfBits.Bf16ToFloat(HalfBits.ToBf16(1f + 3 * MathF.Pow(2, -8))), Is.EqualTo(1f + MathF.Pow(2, -6)), "tie to even (up)");
        Assert.That(HalfBits.Bf16ToFloat(HalfBits.ToBf16(float.MaxValue)), Is.EqualTo(float.PositiveInfinity), "past the largest bf16: Inf");
        Assert.That(float.IsNaN(HalfBits.Bf16ToFloat(HalfBits.ToBf16(BitConverter.UInt32BitsToSingle(0x7F800001u)))), Is.True, "a NaN whose payload sits in the dropped bits stays NaN");
        Assert.That(float.IsNaN(HalfBits.Bf16ToFloat(HalfBits.ToBf16(float.NaN))), Is.True);
    }

    /// <summary>Both formats on both kernel devices: (format name, device).</summary>
    internal static IEnumerable<TestCaseData> DevicesAndFormats() => GpuTargets.Cases([["fp16"], ["bf16"]]);

    internal static HalfType Format(string name) => name == "bf16" ? HalfType.Bf16 : HalfType.Fp16;

    [TestCaseSource(nameof(DevicesAndFormats))]
    public void PackRoundsBothHalvesInPlace(string format, string device)
    {
        var type = Format(format);
        // On CUDA this is the cvt instruction: its operand order (first source in the upper half) and its rounding.
        var lo = RoundingInputs().ToArray();
        var hi = lo.Reverse().ToArray();
        var backend = TestBackends.Ilgpu(device);
        using var dlo = backend.Accelerator.Allocate1D(lo);
        using var dhi = backend.Accelerator.Allocate1D(hi);
        using var dp = backend.Accelerator.Allocate1D<uint>(lo.Length);
        new HalfMmaProbeKernels(backend.Accelerator).RunPack(backend.Stream, type, dlo.View, dhi.View, dp.View);
        backend.Stream.Synchronize();
        var packed = dp.GetAsArray1D();
        Func<float, float> reference = type == HalfType.Fp16 ? RoundFp16 : RoundBf16;
        Func<uint, float> widen = type == HalfType.Fp16 ? HalfBits.Fp16ToFloat : HalfBits.Bf16ToFloat;
        for (int i = 0; i < lo.Length; i++)
        {
            Assert.That(widen(packed[i] & 0xFFFF), Is.EqualTo(reference(lo[i])), $"low half of element {i} ({lo[i]:R})");
            Assert.That(widen(packed[i] >> 16), Is.EqualTo(reference(hi[i])), $"high half of element {i} ({hi[i]:R})");
        }
    }

    private sealed record Registers(float[] A, float[] B, float[] C);

    /// <summary>Distributes row-major A [16, 16], B [16, 8] (k × n) and C [16, 8] into per-lane values by the ISA tables.</summary>
    private static Registers ToRegisters(float[] a, float[] b, float[] c)
    {
        var ra = new float[256]; var rb = new float[128]; var rc = new float[128];
        for (int lane = 0; lane < 32; lane++)
        {
            for (int i = 0; i < 8; i++)
            {
                var (row, k) = AElement(lane, i);
                ra[8 * lane + i] = a[row * 16 + k];
            }
            for (int i = 0; i < 4; i++)
            {
                var (k, col) = BElement(lane, i);
                rb[4 * lane + i] = b[k * 8 + col];
                var (cr, cc) = CElement(lane, i);
                rc[4 * lane + i] = c[cr * 8 + cc];
            }
        }
        return new Registers(ra, rb, rc);
    }

    private static float[] RunProbe(string device, HalfType type, Registers r)
    {
        var backend = TestBackends.Ilgpu(device);
        var acc = backend.Accelerator;
        using var da = acc.Allocate1D(r.A);
        using var db = acc.Allocate1D(r.B);
        using var dc = acc.Allocate1D(r.C);
        using var dd = acc.Allocate1D<float>(128);
        new HalfMmaProbeKernels(acc).RunMma(backend.Stream, type, da.View, db.View, dc.View, dd.View);
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
                for (int k = 0; k < 16; k++) s += (double)a[row * 16 + k] * b[k * 8 + col];
                d[row * 8 + col] = s;
            }
        return d;
    }

    [TestCaseSource(nameof(DevicesAndFormats))]
    public void EachLaneHoldsTheDElementsTheIsaAssignsIt(string format, string device)
    {
        var type = Format(format);
        // Every A, B and C element distinct and exact in both formats (integers ≤ 256 have ≤ 8 significant bits); every
        // sum below 2^24, so exact in any order. A lane or half that read the wrong k, row or column changes D.
        var a = new float[256]; var b = new float[128]; var c = new float[128];
        for (int r = 0; r < 16; r++) for (int k = 0; k < 16; k++) a[r * 16 + k] = r * 16 + k + 1;
        for (int k = 0; k < 16; k++) for (int n = 0; n < 8; n++) b[k * 8 + n] = (k * 8 + n) * 37 % 128 + 1; // a permutation of 1…128
        for (int r = 0; r < 16; r++) for (int n = 0; n < 8; n++) c[r * 8 + n] = 1000 * r + n;
        var d = Reference(a, b, c);
        Assert.That(d.Distinct().Count(), Is.EqualTo(128), "the test's D elements are distinct");
        var lanes = RunProbe(device, type, ToRegisters(a, b, c));
        for (int lane = 0; lane < 32; lane++)
            for (int i = 0; i < 4; i++)
            {
                var (row, col) = CElement(lane, i);
                Assert.That(lanes[4 * lane + i], Is.EqualTo((float)d[row * 8 + col]), $"lane {lane} register d{i} should hold D[{row}][{col}]");
            }
    }

    [TestCaseSource(nameof(DevicesAndFormats))]
    public void RandomOperandsAreRoundedAndAccumulatedInFp32(string format, string device)
    {
        var type = Format(format);
        // Unrounded inputs: the reference rounds them as cvt.rn does. Products of two fp16 or bf16 values are exact in
        // fp32; the 16-term sum plus C in fp32 differs from the double reference by a few roundings of the partial
        // sums (≤ 17 ε·Σ|terms| ≈ 4e-6 of max |D| here), inside the project's fp32 bound of 1e-5, while the input
        // rounding moves results by far more (checked below).
        var a = TestData.Normal(256, 21); var b = TestData.Normal(128, 22); var c = TestData.Normal(128, 23);
        Func<float, float> round = type == HalfType.Fp16 ? RoundFp16 : RoundBf16;
        var d = Reference([.. a.Select(round)], [.. b.Select(round)], c);
        var lanes = RunProbe(device, type, ToRegisters(a, b, c));
        var expected = new float[128]; var actual = new float[128];
        for (int lane = 0; lane < 32; lane++)
            for (int i = 0; i < 4; i++)
            {
                var (row, col) = CElement(lane, i);
                expected[row * 8 + col] = (float)d[row * 8 + col];
                actual[row * 8 + col] = lanes[4 * lane + i];
            }
        Close.Assert(expected, actual, 1e-5, $"mma m16n8k16 {type}");
        var exact = Reference(a, b, c).Select(v => (float)v).ToArray();
        Assert.That(exact.Zip(actual).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-4), $"inputs were not reduced to {type}");
    }
}
