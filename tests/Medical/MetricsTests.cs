using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

public class MetricsTests
{
    [Test]
    public void Psnr_of_a_known_mse()
    {
        float[] r = [0, 1, 0, 1, 0.5f];
        var t = r.Select(v => v + 0.1f).ToArray();
        Assert.That(Psnr.Compute(r, t), Is.EqualTo(20.0).Within(1e-5)); // range 1, MSE 0.01
        Assert.That(Psnr.Compute(r, t, dataRange: 2.0), Is.EqualTo(10 * Math.Log10(4 / 0.01)).Within(1e-5));
        Assert.That(Psnr.Compute(r, r), Is.EqualTo(double.PositiveInfinity));
        Assert.That(Assert.Throws<ArgumentException>(() => Psnr.Compute([1, 1], [1, 2]))!.Message, Does.Contain("dataRange"));
        Assert.That(Assert.Throws<ArgumentException>(() => Psnr.Compute([1, 2], [1]))!.ParamName, Is.EqualTo("test"));
    }

    [Test]
    public void Nmse_by_hand() => Assert.That(Nmse.Compute([3, 4], [3, 5]), Is.EqualTo(1.0 / 25).Within(1e-12));

    [Test]
    public void Ssim_of_identical_images_is_one()
    {
        var x = TestData.Uniform(2 * 20 * 17, 1, 0, 1);
        Assert.That(Ssim.Compute(x, x, 20, 17, 1.0), Is.EqualTo(1.0).Within(1e-12));
        var noisy = x.Zip(TestData.Normal(x.Length, 2, 0.1f), (a, b) => a + b).ToArray();
        Assert.That(Ssim.Compute(x, noisy, 20, 17, 1.0), Is.LessThan(0.95));
    }

    [Test]
    public void Ssim_of_a_constant_shift_on_one_window_by_hand()
    {
        // An 11×11 image has one valid window; a shift c leaves variances and covariance equal, so
        // SSIM = (2μ(μ+c) + C1) / (μ² + (μ+c)² + C1) with μ the Gaussian-weighted mean.
        var x = TestData.Uniform(121, 3, 0, 1);
        const float c = 0.2f;
        var y = x.Select(v => v + c).ToArray();
        double wsum = 0, mu = 0;
        for (int i = 0; i < 11; i++)
            for (int j = 0; j < 11; j++)
            {
                double wgt = Math.Exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5));
                wsum += wgt;
                mu += wgt * x[i * 11 + j];
            }
        mu /= wsum;
        double muY = mu + (double)c, c1 = 0.01 * 0.01;
        double expected = (2 * mu * muY + c1) / (mu * mu + muY * muY + c1);
        // y's float rounding perturbs (2cov + C2)/(vx + vy + C2) at the 1e-7 level.
        Assert.That(Ssim.Compute(x, y, 11, 11, 1.0), Is.EqualTo(expected).Within(1e-6));
        Assert.Throws<ArgumentException>(() => Ssim.Compute(new float[100], new float[100], 10, 10, 1.0));
    }

    [Test]
    public void Dice_by_hand()
    {
        Assert.That(Dice.Compute([1, 1, 0, 0], [1, 0, 1, 0]), Is.EqualTo(0.5));
        Assert.That(Dice.Compute([0, 0], [0, 0]), Is.EqualTo(1.0));
        Assert.That(Dice.Compute([1, 0], [0, 1]), Is.EqualTo(0.0));
        Assert.That(Assert.Throws<ArgumentException>(() => Dice.Compute([1, 0.5f], [0, 1]))!.ParamName, Is.EqualTo("truth"));
    }

    [Test]
    public void Auroc_with_ties_counts_half()
    {
        // Positives {0.35, 0.8, 0.4} vs negatives {0.1, 0.4}: wins 1 + 2 + 1, one tie (½) → 4.5 / 6.
        Assert.That(Auroc.Compute([0.1f, 0.4f, 0.35f, 0.8f, 0.4f], [0, 0, 1, 1, 1]), Is.EqualTo(0.75).Within(1e-12));
        Assert.That(Auroc.Compute([1, 2, 3, 4], [0, 0, 1, 1]), Is.EqualTo(1.0));
        Assert.That(Auroc.Compute([1, 2, 3, 4], [1, 1, 0, 0]), Is.EqualTo(0.0));
        Assert.That(Auroc.Compute([5, 5, 5, 5], [1, 0, 1, 0]), Is.EqualTo(0.5));
        Assert.That(Assert.Throws<ArgumentException>(() => Auroc.Compute([1, 2], [1, 1]))!.Message, Does.Contain("both classes"));
    }
}
