using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

public class UNetDenoiserTests
{
    [TestCase(Prediction.Epsilon)]
    [TestCase(Prediction.VPrediction)]
    [TestCase(Prediction.Sample)]
    public void ConvertsTheNetworkOutputToX0(Prediction prediction)
    {
        var b = TestBackends.Cpu;
        using var unet = UNet2DModel.Load(Fixtures.Path("unet", "tiny_ddpm"), b);
        var schedule = DiscreteSchedule.Create("linear");
        double sigma = 3.0, alpha = 1 / Math.Sqrt(sigma * sigma + 1);
        var xHost = TestData.Normal(2 * 3 * 16 * 16, 8, (float)sigma);
        using var x = b.Upload(xHost, new Shape(2, 3, 16, 16));

        // The reference: the network on x_t = α·x at t(σ), converted by hand.
        using var reference = unet.Compile(2, 16, 16);
        using var xt = b.Upload(xHost.Select(v => (float)(v * alpha)).ToArray(), x.Shape);
        float t = (float)schedule.SigmaToT(sigma);
        var output = reference.Forward(xt, [t]).ToArray();
        var expected = prediction switch
        {
            Prediction.Epsilon => xHost.Select((v, i) => (float)(v - sigma * output[i])).ToArray(),
            Prediction.VPrediction => xHost.Select((v, i) => (float)(alpha * (alpha * v) - sigma * alpha * output[i])).ToArray(),
            _ => output,
        };

        using var d = new UNetDenoiser(unet.Compile(2, 16, 16), schedule, prediction, [3, 16, 16]);
        using var den = b.Allocate(x.Shape);
        d.Denoise(x, sigma, den);
        Close.Assert(expected, den.ToArray(), 1e-5, prediction.ToString());
        Assert.That(d.Evaluations, Is.EqualTo(1));
    }

    /// <summary>A whole sampling run through the U-Net on the CPU backend: finite, deterministic per seed, NFE as promised.</summary>
    [Test]
    public void SamplesThroughTheUNet()
    {
        var b = TestBackends.Cpu;
        using var unet = UNet2DModel.Load(Fixtures.Path("unet", "tiny_ddpm"), b);
        using var d = new UNetDenoiser(unet.Compile(2, 16, 16), DiscreteSchedule.Create("linear"), Prediction.Epsilon, [3, 16, 16]);
        float[] Draw()
        {
            using var x = b.Allocate(2, 3, 16, 16);
            b.RandomNormal(x, 5);
            var sigmas = SigmaGrids.Karras(4, d.SigmaMin, d.SigmaMax);
            b.Scale(x, (float)sigmas[0], x);
            using var ctx = new SamplerContext(d, x, new SamplerOptions { Seed = 5 });
            new DpmSolverPP2M { Eta = 1 }.Sample(x, sigmas, ctx);
            return x.ToArray();
        }
        var first = Draw();
        Close.Identical(first, Draw(), "same seed, same samples");
        Assert.That(first, Has.All.Matches<float>(float.IsFinite));
        Assert.That(d.Evaluations, Is.EqualTo(8));
    }
}
