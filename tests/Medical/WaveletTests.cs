using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

public class WaveletTests
{
    [TestCase(DaubechiesWavelet.Haar, 1)]
    [TestCase(DaubechiesWavelet.Db2, 2)]
    [TestCase(DaubechiesWavelet.Db4, 4)]
    public void Filters_are_orthonormal_with_the_stated_vanishing_moments(DaubechiesWavelet wavelet, int moments)
    {
        var h = Wavelet2d.ScalingFilter(wavelet);
        Assert.That(h.Sum(), Is.EqualTo(Math.Sqrt(2)).Within(1e-12), "Σh = √2");
        for (int shift = 0; shift < h.Length; shift += 2)
        {
            double dot = 0;
            for (int n = 0; n + shift < h.Length; n++) dot += h[n] * h[n + shift];
            Assert.That(dot, Is.EqualTo(shift == 0 ? 1 : 0).Within(1e-12), $"Σ h_n h_(n+{shift})");
        }
        // g_n = (−1)^n h_(L−1−n) kills polynomials of degree < moments: Σ g_n n^p = 0.
        for (int p = 0; p < moments; p++)
        {
            double sum = 0;
            for (int n = 0; n < h.Length; n++) sum += (n % 2 == 0 ? 1 : -1) * h[h.Length - 1 - n] * Math.Pow(n, p);
            Assert.That(sum, Is.EqualTo(0).Within(1e-9), $"moment {p}");
        }
    }

    [TestCase(DaubechiesWavelet.Haar, 3, 16, 8)]
    [TestCase(DaubechiesWavelet.Db2, 2, 12, 20)]
    [TestCase(DaubechiesWavelet.Db4, 3, 32, 16)]
    [TestCase(DaubechiesWavelet.Db4, 1, 4, 6)]
    public void Transform_is_orthonormal_and_inverts(DaubechiesWavelet wavelet, int levels, int h, int w)
    {
        var psi = new Wavelet2d(wavelet, levels);
        var x = TestData.Normal(2 * h * w, 5);
        var c = psi.Forward(x, 2, h, w);
        double ex = x.Sum(v => (double)v * v), ec = c.Sum(v => (double)v * v);
        Assert.That(ec, Is.EqualTo(ex).Within(1e-5 * ex), "energy");
        Close.Assert(x, psi.Inverse(c, 2, h, w), 1e-5, "perfect reconstruction");
        // The transpose is the inverse: ⟨Ψx, y⟩ = ⟨x, Ψᵀy⟩ with Ψᵀ = Inverse.
        var y = TestData.Normal(2 * h * w, 6);
        double lhs = c.Zip(y, (a, b) => (double)a * b).Sum(), rhs = x.Zip(psi.Inverse(y, 2, h, w), (a, b) => (double)a * b).Sum();
        Assert.That(lhs, Is.EqualTo(rhs).Within(1e-4 * Math.Sqrt(ex * y.Sum(v => (double)v * v))));
    }

    [Test]
    public void Haar_one_level_by_hand()
    {
        // [[a, b], [c, d]] → LL = (a+b+c+d)/2, then LH, HL, HH as the signed sums over 2 (rows first, then columns).
        float a = 1, b = 2, c = 3, d = 5;
        var coef = new Wavelet2d(DaubechiesWavelet.Haar, 1).Forward([a, b, c, d], 1, 2, 2);
        Assert.That(coef[0], Is.EqualTo((a + b + c + d) / 2).Within(1e-6));
        Assert.That(coef[1], Is.EqualTo((a - b + c - d) / 2).Within(1e-6));
        Assert.That(coef[2], Is.EqualTo((a + b - c - d) / 2).Within(1e-6));
        Assert.That(coef[3], Is.EqualTo((a - b - c + d) / 2).Within(1e-6));
        var psi = new Wavelet2d(DaubechiesWavelet.Db4, 2);
        Assert.That(psi.ApproximationMask(8, 8).Count(m => m), Is.EqualTo(4));
        Assert.Throws<ArgumentException>(() => psi.Forward(new float[6 * 8], 1, 6, 8));
        Assert.That(Wavelet2d.MaxLevels(64, 64), Is.EqualTo(5));
    }
}
