using System.Text.RegularExpressions;
using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Ptx;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using ILGPU.Runtime.Cuda;
using MathNet.Numerics.Distributions;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class PhiloxTests
{
    // Random123 tests/kat_vectors (DEShawResearch/random123), the three "philox4x32 10" lines:
    // counter[4] key[2] → output[4].
    [TestCase(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [TestCase(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [TestCase(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void MatchesRandom123KnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3)
    {
        var r = Philox.Generate(new PhiloxBlock(c0, c1, c2, c3), k0, k1);
        Assert.That(new[] { r.X0, r.X1, r.X2, r.X3 }, Is.EqualTo(new[] { e0, e1, e2, e3 }));
    }

    // The float bits below come from an independent Python transcription of the mapping documented on Philox
    // (exact integer arithmetic, math.isqrt), so the documentation is precise enough to reproduce the noise.
    [TestCase(0ul, 0ul, 0ul, 1065204531u)]
    [TestCase(0ul, 0ul, 1ul, 3211572912u)]
    [TestCase(0ul, 0ul, 2ul, 3206421407u)]
    [TestCase(0ul, 0ul, 3ul, 3203846578u)]
    [TestCase(42ul, 3ul, 1000001ul, 1046095722u)]
    [TestCase(0xDEADBEEFCAFEF00Dul, 7ul, 1099511627781ul, 1059232240u)]
    [TestCase(12345ul, 0ul, 17ul, 1060158741u)]
    public void NormalsMatchTheDocumentedMapping(ulong seed, ulong sample, ulong position, uint bits) =>
        Assert.That(BitConverter.SingleToUInt32Bits(Philox.Normal(seed, sample, position)), Is.EqualTo(bits));

    [Test]
    public void BoxMullerIsAccurate()
    {
        var rng = new Random(3);
        var words = new List<(uint, uint)>();
        for (int i = 0; i < 20000; i++) words.Add(((uint)rng.NextInt64(1L << 32), (uint)rng.NextInt64(1L << 32)));
        // The ends of the radius range and the quadrant seams of the angle.
        foreach (uint w in new uint[] { 0, 1, 2, 0x7fffffff, 0x80000000, 0xb504f333, 0xfffffffe, 0xffffffff })
            foreach (uint a in new uint[] { 0, 1, 0x1fffffff, 0x20000000, 0x40000000, 0x5fffffff, 0x60000000, 0xdfffffff, 0xe0000000, 0xffffffff })
                words.Add((w, a));
        double worst = 0;
        foreach (var (w, a) in words)
        {
            double r = Math.Sqrt(-2 * Math.Log((w + 0.5) / 4294967296.0)), theta = 2 * Math.PI * a / 4294967296.0;
            var z = Philox.BoxMuller(w, a);
            // Fixed-point error (< 1e-8) plus the float rounding of the result.
            worst = Math.Max(worst, Math.Abs(z.Z0 - r * Math.Cos(theta)) - Math.Abs(z.Z0) * 6e-8);
            worst = Math.Max(worst, Math.Abs(z.Z1 - r * Math.Sin(theta)) - Math.Abs(z.Z1) * 6e-8);
        }
        Assert.That(worst, Is.LessThan(1e-8));
    }

    [Test]
    public void FloorSqrtIsExact()
    {
        var rng = new Random(7);
        for (int i = 0; i < 20000; i++)
        {
            ulong root = (ulong)rng.NextInt64(1L << (1 + i % 31));
            ulong square = root * root;
            foreach (ulong n in new[] { square, square == 0 ? 0 : square - 1, square + root, (ulong)rng.NextInt64(1L << 62) })
            {
                ulong r = Philox.FloorSqrt(n);
                Assert.That(r * r <= n && (r + 1) * (r + 1) > n, $"floor sqrt of {n} gave {r}");
            }
        }
    }

    private static float[] Noise(Backend b, int[] shape, ulong seed, long first = 0, ulong offset = 0)
    {
        using var y = b.Allocate(new Shape(shape));
        b.RandomNormal(y, seed, first, offset);
        return y.ToArray();
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void CpuAndIlgpuAreBitIdentical(string device)
    {
        foreach (var (shape, seed, first, offset) in new (int[], ulong, long, ulong)[]
                 {
                     ([3, 5, 7], 0xDEADBEEFCAFEF00Dul, 5, 3),
                     ([2, 1, 3, 3], 1, 0, 0),
                     ([1, 37], 42, 1L << 33, (1UL << 34) + 1),
                     ([4, 6], ulong.MaxValue, long.MaxValue - 4, 2),
                     ([16, 3, 64, 64], 2024, 0, 4097), // a sampling step's noise (larger on CUDA only)
                 })
        {
            if (device == "ilgpu-cpu" && shape[0] == 16) continue;
            Close.Identical(Noise(TestBackends.Cpu, shape, seed, first, offset), Noise(TestBackends.Get(device), shape, seed, first, offset), $"{string.Join('x', shape)}");
        }
    }

    [Test]
    public void TheCpuTwinMatchesTheScalarDefinition()
    {
        // Large enough for the parallel chunks; an odd offset splits Philox blocks across chunk boundaries.
        int samples = 3, per = 3 * 67 * 61;
        var y = Noise(TestBackends.Cpu, [samples, 3, 67, 61], 99, 11, 4097);
        for (int n = 0; n < samples; n++)
            for (int i = 0; i < per; i += 7)
                Assert.That(y[n * per + i], Is.EqualTo(Philox.Normal(99, 11 + (ulong)n, 4097 + (ulong)i)), $"sample {n} element {i}");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void BatchSplitsGiveTheSameNoise(string device)
    {
        var b = TestBackends.Get(device);
        var all = Noise(b, [4, 3, 5, 5], 2024, 0, 10);
        var first = Noise(b, [2, 3, 5, 5], 2024, 0, 10);
        var second = Noise(b, [2, 3, 5, 5], 2024, 2, 10);
        Close.Identical(all, [.. first, .. second], "samples 0-1 then 2-3");
    }

    [Test]
    public void OffsetShiftsTheStream()
    {
        var a = Noise(TestBackends.Cpu, [2, 1000], 7, 0, 0);
        var b = Noise(TestBackends.Cpu, [2, 1000], 7, 0, 3);
        for (int n = 0; n < 2; n++)
            for (int i = 0; i + 3 < 1000; i++)
                Assert.That(b[n * 1000 + i], Is.EqualTo(a[n * 1000 + i + 3]));
        Assert.That(SameFraction(a, b), Is.LessThan(0.01));
    }

    [Test]
    public void SeedsSamplesAndOffsetsGiveDifferentStreams()
    {
        var reference = Noise(TestBackends.Cpu, [1, 4096], 1);
        var others = new[]
        {
            Noise(TestBackends.Cpu, [1, 4096], 2),
            Noise(TestBackends.Cpu, [1, 4096], 1UL << 32),
            Noise(TestBackends.Cpu, [1, 4096], 1, 1),
            Noise(TestBackends.Cpu, [1, 4096], 1, 1L << 32),
            Noise(TestBackends.Cpu, [1, 4096], 1, 0, 1UL << 40),
        };
        foreach (var o in others)
        {
            Assert.That(SameFraction(reference, o), Is.LessThan(0.01));
            Assert.That(Math.Abs(Correlation(reference, o)), Is.LessThan(5 / Math.Sqrt(4096)));
        }
    }

    private static double SameFraction(float[] a, float[] b) => a.Zip(b).Count(p => p.First == p.Second) / (double)a.Length;

    private static double Correlation(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sa += a[i]; sb += b[i]; sab += (double)a[i] * b[i]; saa += (double)a[i] * a[i]; sbb += (double)b[i] * b[i];
        }
        int n = a.Length;
        return (sab - sa * sb / n) / Math.Sqrt((saa - sa * sa / n) * (sbb - sb * sb / n));
    }

    [Test]
    public void MillionDrawsAreStandardNormal()
    {
        const int n = 1 << 20;
        var z = Noise(TestBackends.Cpu, [4, n / 4], 123456789, 0, 1000);
        double m1 = 0;
        foreach (var x in z) m1 += x;
        m1 /= n;
        double m2 = 0, m3 = 0, m4 = 0;
        foreach (var x in z)
        {
            double d = x - m1, d2 = d * d;
            m2 += d2; m3 += d2 * d; m4 += d2 * d2;
        }
        m2 /= n; m3 /= n; m4 /= n;
        double skew = m3 / Math.Pow(m2, 1.5), excessKurtosis = m4 / (m2 * m2) - 3;
        // Five standard errors of each estimator for a true standard normal.
        Assert.That(Math.Abs(m1), Is.LessThan(5 / Math.Sqrt(n)), "mean");
        Assert.That(Math.Abs(m2 - 1), Is.LessThan(5 * Math.Sqrt(2.0 / n)), "variance");
        Assert.That(Math.Abs(skew), Is.LessThan(5 * Math.Sqrt(6.0 / n)), "skewness");
        Assert.That(Math.Abs(excessKurtosis), Is.LessThan(5 * Math.Sqrt(24.0 / n)), "excess kurtosis");

        // Kolmogorov–Smirnov against Φ; 1.95 is the 0.1% critical value of √n·D.
        var sorted = z.Select(x => (double)x).ToArray();
        Array.Sort(sorted);
        double dMax = 0;
        for (int i = 0; i < n; i++)
        {
            double f = Normal.CDF(0, 1, sorted[i]);
            dMax = Math.Max(dMax, Math.Max((i + 1.0) / n - f, f - (double)i / n));
        }
        Assert.That(dMax * Math.Sqrt(n), Is.LessThan(1.95), "Kolmogorov–Smirnov √n·D");

        // Neighbours (which share a Philox block) are uncorrelated; the lane pairs share a radius but not a sign.
        Assert.That(Math.Abs(Correlation(z.AsSpan(0, n - 1), z.AsSpan(1, n - 1))), Is.LessThan(5 / Math.Sqrt(n)), "lag-1 correlation");
        Assert.That(z.Max(), Is.LessThan(6.8f));
        Assert.That(z.Min(), Is.GreaterThan(-6.8f));
    }

    [Test]
    public void CudaCodeUsesOnlyExactlySpecifiedFloatingPoint()
    {
        // CUDA bit-identity rests on the noise kernel doing integer work only, then int → float (correctly
        // rounded) and one multiply by 2⁻²⁸ (exact); the double sqrt is only an estimate corrected in integers.
        // Compile it to PTX here (no GPU needed) and check that no other floating-point instruction appears:
        // no approximate transcendental, no call, nothing ptxas could contract into an FMA.
        // The PTX is that of an sm_90 device under a CUDA 13 driver, compiled with the runtime's settings.
        using var compiler = new OfflinePtxCompiler(CudaArchitecture.SM_90, OfflinePtxCompiler.RuntimeInstructionSet(CudaArchitecture.SM_90, 13, 0));
        var ptx = compiler.Compile(KernelCatalog.All.Single(k => k.Name == "RandomNormalKernel.Fill"));
        var floatOps = Regex.Matches(ptx, @"^\s+([a-z][a-z0-9]*(?:\.[a-z0-9]+)+)\s+(.*)$", RegexOptions.Multiline)
            .Select(m => (Op: m.Groups[1].Value, Args: m.Groups[2].Value))
            .Where(f => f.Op.Split('.').Any(part => part is "f16" or "f32" or "f64"))
            .ToList();
        string[] allowed = ["cvt.rn.f32.s32", "mul.f32", "st.f32", "st.global.f32", "cvt.rn.f64.u64", "sqrt.rn.f64", "cvt.rzi.u64.f64"];
        Assert.That(floatOps.Select(f => f.Op).Distinct(), Is.SubsetOf(allowed));
        Assert.That(floatOps.Where(f => f.Op == "mul.f32").Select(f => f.Args), Is.All.Contains("0f31800000"), "the only float multiply is by 2^-28");
        Assert.That(floatOps.Count(f => f.Op == "cvt.rn.f32.s32"), Is.EqualTo(4));
        Assert.That(ptx, Does.Not.Contain("call"));
    }

    [Test]
    public void BadInputsAreRejected()
    {
        using var y = TestBackends.Cpu.Allocate(2, 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TestBackends.Cpu.RandomNormal(y, 1, -1));
        Assert.That(e!.Message, Does.Contain("random normal"));
        using var l = TestBackends.Cpu.Allocate(new Shape(2, 3), DType.Int64);
        Assert.Throws<DTypeMismatchException>(() => TestBackends.Cpu.RandomNormal(l, 1));
    }
}
