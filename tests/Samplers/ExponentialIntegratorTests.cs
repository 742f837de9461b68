using System.Numerics;
using DiffusionKernels.Samplers.Solvers;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

public class ExponentialIntegratorTests
{
    /// <summary>
    /// eᶻ − 1 to ~200 bits: z = m·2ᵉ is exact, so the Taylor series runs in BigInteger fixed point (terms z^{n−1}/n! of
    /// expm1(z)/z for |z| ≤ 1, where nothing cancels at the scale of the result; eᶻ = Σ|z|ⁿ/n! and its reciprocal
    /// beyond). Returns (R, E) with expm1(z) = R·2^E.
    /// </summary>
    private static (BigInteger Mantissa, int Exponent) Reference(double z)
    {
        const int bits = 220;
        var one = BigInteger.One << bits;
        if (Math.Abs(z) <= 1)
        {
            var (m, e) = Decompose(z);
            BigInteger term = one, sum = one;
            for (int n = 2; !term.IsZero; n++)
            {
                term = Shift(term * m, e) / n;
                sum += term;
            }
            return (m * sum, e - bits);
        }
        var (am, ae) = Decompose(Math.Abs(z));
        BigInteger t = one, exp = one;
        for (int n = 1; !t.IsZero; n++)
        {
            t = Shift(t * am, ae) / n;
            exp += t;
        }
        return (z > 0 ? exp - one : one * one / exp - one, -bits);
    }

    /// <summary>A finite double as m·2ᵉ with an integer m.</summary>
    private static (BigInteger Mantissa, int Exponent) Decompose(double d)
    {
        long bits = BitConverter.DoubleToInt64Bits(d);
        int exponent = (int)((bits >> 52) & 0x7FF);
        long fraction = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent = 1;
        else fraction |= 1L << 52;
        return (bits < 0 ? -fraction : fraction, exponent - 1075);
    }

    private static BigInteger Shift(BigInteger v, int by) => by >= 0 ? v << by : v >> -by;

    /// <summary>(value − exact) in units of the last place of value.</summary>
    private static double UlpError(double value, double z)
    {
        var (r, re) = Reference(z);
        var (m, e) = Decompose(value);
        int common = Math.Min(e, re);
        var difference = Shift(m, e - common) - Shift(r, re - common);
        // m has 53 bits, so one unit of its last place is 2^e (for normal values).
        return Math.ScaleB((double)Shift(difference, common - e + 64), -64);
    }

    private static IEnumerable<double> Arguments()
    {
        foreach (var magnitude in new[] { 1e-300, 1e-20, 1e-12, 1e-8, 9.99e-6, 1e-5, 1.0001e-5, 1e-4, 1e-3, 0.01, 0.1, 0.3, 0.4999999, 0.5, 0.5000001, 0.7, 0.99, 1, 1.01, 2, 5, 20, 100, 700 })
        {
            yield return magnitude;
            yield return -magnitude;
        }
        var rng = new Random(5);
        for (int i = 0; i < 3000; i++) yield return (rng.Next(2) * 2 - 1) * Math.Exp(rng.NextDouble() * 10 - 9); // |z| from 1e-4 to 2.7
    }

    [Test]
    public void Expm1IsCorrectToTheLastBitsForTinyAndLargeArguments()
    {
        // Tolerance 2 ulp: the series below |z| = ½ rounds once per term (measured ≤ 1.43 ulp), and above it Math.Exp's
        // own ≤ 0.5 ulp of eᶻ grows by eᶻ/(eᶻ − 1) ≤ 2.6 relative to the result at z = ½ (measured ≤ 1.4 ulp).
        var worst = Arguments().Select(z => (Z: z, Ulp: Math.Abs(UlpError(ExponentialIntegrator.Expm1(z), z)))).MaxBy(p => p.Ulp);
        TestContext.Out.WriteLine($"worst {worst.Ulp:F3} ulp at z = {worst.Z:R}");
        Assert.That(worst.Ulp, Is.LessThanOrEqualTo(2), $"z = {worst.Z:R}");
    }

    [Test]
    public void Expm1KeepsSignsAndLimits()
    {
        Assert.That(ExponentialIntegrator.Expm1(0), Is.EqualTo(0));
        Assert.That(double.IsNegative(ExponentialIntegrator.Expm1(-0.0)), "−0 stays −0");
        Assert.That(ExponentialIntegrator.Expm1(-1e-300), Is.EqualTo(-1e-300), "tiny h: expm1(h) = h to the last bit");
        Assert.That(ExponentialIntegrator.Expm1(-800), Is.EqualTo(-1));
        Assert.That(ExponentialIntegrator.Expm1(double.PositiveInfinity), Is.EqualTo(double.PositiveInfinity));
        Assert.That(ExponentialIntegrator.Expm1(double.NaN), Is.NaN);
    }

    [Test]
    public void TheReferenceIsItselfRight()
    {
        // e − 1 and e⁻¹ − 1 to double precision, and a first-order check where the series is one term.
        Assert.That(Math.Abs(UlpError(Math.E - 1, 1)), Is.LessThanOrEqualTo(1));
        Assert.That(Math.Abs(UlpError(1 / Math.E - 1, -1)), Is.LessThanOrEqualTo(1));
        Assert.That(UlpError(1e-300, 1e-300), Is.EqualTo(0).Within(1e-6));
        Assert.That(Math.Abs(UlpError(1e-5, 1e-5)), Is.GreaterThan(1e10), "1e-5 is far from expm1(1e-5) = 1e-5 + 5e-11");
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void GIsContinuousWhereItSwitchesFromSeriesToRecursion(int k)
    {
        // gₖ is smooth: its series (|z| < 1) and its recursion from expm1 (|z| ≥ 1) must meet at |z| = 1.
        foreach (var z in new[] { 1.0, -1.0 })
        {
            double below = ExponentialIntegrator.G(k, Math.BitDecrement(Math.Abs(z)) * Math.Sign(z));
            double at = ExponentialIntegrator.G(k, z);
            Assert.That(at, Is.EqualTo(below).Within(1e-12).Percent, $"g{k} at z = {z}");
        }
    }
}
