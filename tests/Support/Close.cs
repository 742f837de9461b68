using NUnit.Framework;

namespace DiffusionKernels.Tests.Support;

/// <summary>Array comparisons with tolerances relative to the reference's largest magnitude.</summary>
public static class Close
{
    /// <summary>
    /// Asserts |actual − expected| ≤ rel · max(|expected|) (+ a tiny absolute floor) element-wise and
    /// reports the worst element. fp32 ops that sum K products differ from a reference by ~K·ε·|x|, so
    /// 1e-5 relative to the largest magnitude is the default; callers that sum more justify a looser bound.
    /// </summary>
    public static void Assert(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rel = 1e-5, string what = "")
    {
        NUnit.Framework.Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: length");
        double maxRef = 0;
        foreach (var e in expected) maxRef = Math.Max(maxRef, Math.Abs(e));
        double bound = rel * maxRef + 1e-30;
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)actual[i] - expected[i]);
            if (double.IsNaN(actual[i]) != double.IsNaN(expected[i])) d = double.PositiveInfinity;
            if (d > worst || (worstAt < 0 && d > bound)) { worst = d; worstAt = i; }
        }
        if (worst > bound)
            NUnit.Framework.Assert.Fail($"{what}: element {worstAt} differs by {worst:E3} (expected {expected[worstAt]}, actual {actual[worstAt]}); bound {bound:E3} = {rel:E1} × max |ref| {maxRef:E3}");
    }

    /// <summary>Asserts bit-identical arrays.</summary>
    public static void Identical(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what = "")
    {
        NUnit.Framework.Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: length");
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                NUnit.Framework.Assert.Fail($"{what}: element {i} differs: {expected[i]:R} vs {actual[i]:R}");
    }
}
