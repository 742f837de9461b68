using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Tests.Cli;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

public class GuidanceTests
{
    private static string ClassModel => Fixtures.Path("unet", "film_classes_f16");

    private static float[] Conditional(UNet2DModel unet, float[] x, long label, double sigma)
    {
        var b = unet.Backend;
        using var d = new UNetDenoiser(unet.Compile(2, 24, 24), DiscreteSchedule.Create("linear"), Prediction.Epsilon, [1, 24, 24], [label, label]);
        using var xt = b.Upload(x, new Shape(2, 1, 24, 24));
        using var den = b.Allocate(xt.Shape);
        d.Denoise(xt, sigma, den);
        return den.ToArray();
    }

    [TestCase(0.0)]
    [TestCase(1.0)]
    [TestCase(3.5)]
    public void GuidanceExtrapolatesFromTheNullClassToTheClass(double scale)
    {
        var b = TestBackends.Cpu;
        using var unet = UNet2DModel.Load(ClassModel, b);
        var x = TestData.Normal(2 * 24 * 24, 5, 2f);
        const double sigma = 1.7;
        var cond = Conditional(unet, x, 2, sigma);
        var uncond = Conditional(unet, x, 4, sigma);
        Assert.That(cond.Zip(uncond).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-3), "the class changes the output");

        using var inner = new UNetDenoiser(unet.Compile(2, 24, 24), DiscreteSchedule.Create("linear"), Prediction.Epsilon, [1, 24, 24], [2, 2]);
        using var guided = new GuidedDenoiser(inner, [2, 2], [4, 4], scale);
        using var xt = b.Upload(x, new Shape(2, 1, 24, 24));
        using var den = b.Allocate(xt.Shape);
        guided.Denoise(xt, sigma, den);
        Assert.That(guided.Evaluations, Is.EqualTo(2), "two network calls per guided evaluation");
        var expected = uncond.Zip(cond, (u, c) => (float)(u + scale * (c - u))).ToArray();
        Close.Assert(expected, den.ToArray(), 1e-5);
    }

    [Test]
    public void TheCommandSamplesAClassWithGuidanceAndRejectsMisuse()
    {
        var dir = Path.Combine(Path.GetTempPath(), "dk-cfg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var (code, output, err) = CliRunner.Run("sample", "--model", ClassModel, "--class-label", "1", "--guidance-scale", "3", "--steps", "3",
                "--num-samples", "2", "--output", Path.Combine(dir, "out"), "--device", "cpu");
            Assert.That(code, Is.Zero, err);
            Assert.That(output, Does.Contain("NFE 6"), "guidance doubles the NFE");
            (code, _, err) = CliRunner.Run("sample", "--model", ClassModel, "--output", Path.Combine(dir, "a"), "--device", "cpu");
            Assert.That(code, Is.EqualTo(2));
            Assert.That(err, Does.Contain("--class-label"));
            (code, _, err) = CliRunner.Run("sample", "--class-label", "1", "--guidance-scale", "2", "--output", Path.Combine(dir, "b"), "--device", "cpu");
            Assert.That(code, Is.EqualTo(2));
            Assert.That(err, Does.Contain("not class-conditional"));
            (code, _, err) = CliRunner.Run("sample", "--model", ClassModel, "--class-label", "9", "--output", Path.Combine(dir, "c"), "--device", "cpu");
            Assert.That(code, Is.EqualTo(2));
            Assert.That(err, Does.Contain("9"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
