using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Cli;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

public class Img2ImgTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir()
    {
        Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-img2img-" + Guid.NewGuid().ToString("N")));
        File.WriteAllText(Path.Combine(_dir, "gmm.json"), """{"shape": [1, 4, 4], "weights": [0.5, 0.5], "means": [-0.6, 0.6], "stds": [0.05, 0.05]}""");
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [TestCase(1.0, 10)]
    [TestCase(0.6, 6)]
    [TestCase(0.01, 1)]
    public void StrengthKeepsTheLastStepsOfTheGrid(double strength, int steps)
    {
        var sigmas = Enumerable.Range(0, 11).Select(i => 10.0 - i).ToArray();
        var tail = DiffusionModel.ForStrength(sigmas, strength);
        Assert.That(tail, Has.Length.EqualTo(steps + 1));
        Assert.That(tail[^1], Is.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => DiffusionModel.ForStrength(sigmas, 0));
    }

    [Test]
    public void ALowStrengthKeepsTheImageAndAFullOneForgetsIt()
    {
        using var model = DiffusionModel.Open("gmm:" + Path.Combine(_dir, "gmm.json"), TestBackends.Cpu, 8);
        // Images halfway between the modes, slightly on the positive side: a weak edit pulls them toward the +0.6 mode
        // only (the probability-flow ODE from a low σ moves x by the share of it that is noise), a full run anywhere.
        var images = Enumerable.Repeat(0.1f, 8 * 16).ToArray();
        var sigmas = SigmaGrids.Karras(20, 0.002, 80);
        var weak = SampleRunner.Draw(model, SamplerRegistry.Get("euler"), DiffusionModel.ForStrength(sigmas, 0.2), 8, new SamplerOptions { Seed = 4 }, images, initIsImage: true);
        Assert.That(DiffusionModel.ForStrength(sigmas, 0.2)[0], Is.LessThan(0.5), "a weak edit starts at a low noise level");
        Assert.That(weak, Is.All.InRange(0.1f, 0.6f));
        var full = SampleRunner.Draw(model, SamplerRegistry.Get("euler"), sigmas, 8, new SamplerOptions { Seed = 4 }, images, initIsImage: true);
        Assert.That(Enumerable.Range(0, 8).Count(k => full[16 * k] < 0), Is.GreaterThan(0), "from σ_max the image is forgotten: both modes appear");
    }

    [Test]
    public void TheCommandChecksTheImages()
    {
        var images = Path.Combine(_dir, "img.npy");
        DiffusionKernels.Runtime.IO.Npy.Write(images, new float[3 * 16], [3, 1, 4, 4]);
        var (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + Path.Combine(_dir, "gmm.json"), "--init-image", images, "--num-samples", "2",
            "--output", Path.Combine(_dir, "out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("--init-image"));
        (code, var output, err) = CliRunner.Run("sample", "--model", "gmm:" + Path.Combine(_dir, "gmm.json"), "--init-image", images, "--num-samples", "3",
            "--strength", "0.5", "--steps", "10", "--output", Path.Combine(_dir, "out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("NFE 5, img2img from σ"));
    }
}
