using MathNet.Numerics.Distributions;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Support;

/// <summary>
/// Checks samples against the two-component test mixture 0.3·N(−2, 0.4²) + 0.7·N(1.5, 0.6²): the component weight
/// within 3σ binomial bounds, each component's mean and std, and a Kolmogorov–Smirnov test on one pixel.
/// </summary>
public static class MixtureAssert
{
    /// <summary><paramref name="y"/> holds <paramref name="n"/> samples of <paramref name="pixels"/> values each.</summary>
    public static void MatchesTheMixture(float[] y, int n, int pixels)
    {
        // Classify by the nearer mean of the sample average.
        var avg = Enumerable.Range(0, n).Select(i => y.Skip(pixels * i).Take(pixels).Average()).ToArray();
        var first = Enumerable.Range(0, n).Where(i => avg[i] < -0.25).ToArray();
        double p = 0.3, sd = Math.Sqrt(p * (1 - p) / n);
        Assert.That((double)first.Length / n, Is.EqualTo(p).Within(3 * sd + 0.005), "weight of the first component");
        var pixels1 = first.SelectMany(i => y.Skip(pixels * i).Take(pixels)).ToArray();
        var pixels2 = Enumerable.Range(0, n).Except(first).SelectMany(i => y.Skip(pixels * i).Take(pixels)).ToArray();
        Assert.That(pixels1.Average(), Is.EqualTo(-2).Within(0.05));
        Assert.That(pixels2.Average(), Is.EqualTo(1.5).Within(0.05));
        Assert.That(Std(pixels1), Is.EqualTo(0.4).Within(0.04));
        Assert.That(Std(pixels2), Is.EqualTo(0.6).Within(0.04));
        var pix = Enumerable.Range(0, n).Select(i => (double)y[pixels * i]).OrderBy(v => v).ToArray();
        double dmax = 0;
        for (int i = 0; i < n; i++)
        {
            double cdf = 0.3 * Normal.CDF(-2, 0.4, pix[i]) + 0.7 * Normal.CDF(1.5, 0.6, pix[i]);
            dmax = Math.Max(dmax, Math.Max(Math.Abs(cdf - (double)i / n), Math.Abs(cdf - (i + 1.0) / n)));
        }
        Assert.That(dmax * Math.Sqrt(n), Is.LessThan(1.95), "KS statistic beyond the 0.1% critical value");
    }

    private static double Std(float[] v)
    {
        double m = v.Average();
        return Math.Sqrt(v.Sum(a => (a - m) * (a - m)) / v.Length);
    }
}
