using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

public class DynamicThresholdTests
{
    /// <summary>Returns a fixed x̂₀ whatever x (so the thresholding can be checked by hand).</summary>
    private sealed class FixedDenoiser(Backend backend, float[] values, int[] shape) : IDenoiser
    {
        public Backend Backend => backend;
        public int[] SampleShape => shape;
        public double SigmaMin => 0.01;
        public double SigmaMax => 10;
        public int Evaluations { get; private set; }
        public void Denoise(Tensor x, double sigma, Tensor denoised) { backend.CopyFromHost(values, denoised); Evaluations++; }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ThresholdsEachSampleAtItsQuantile(bool ilgpu)
    {
        Backend b = ilgpu ? TestBackends.IlgpuCpu : TestBackends.Cpu;
        // Sample 0: |x̂₀| = 0.5, 1, 1.5, 2, 2.5, 3 (shuffled signs); sample 1 stays inside [−1, 1]; sample 2 is large.
        float[] values = [2.5f, -0.5f, 3f, -1f, 1.5f, -2f, 0.1f, -0.9f, 0.3f, 0.2f, -0.4f, 0.8f, 10f, -20f, 30f, -40f, 50f, -60f];
        var d = new DynamicThresholdDenoiser(new FixedDenoiser(b, values, [1, 2, 3]), ratio: 0.8, maxValue: 4);
        using var x = b.Allocate(new Shape(3, 1, 2, 3));
        using var den = b.Allocate(x.Shape);
        d.Denoise(x, 1.0, den);
        // Hand computation (torch.quantile, linear): position 0.8·5 = 4 → sorted |x|[4].
        //   sample 0: s = 2.5;  sample 1: quantile 0.8 → clamped up to 1 (plain clipping);  sample 2: 50 → clamped down to 4.
        float[] s = [2.5f, 1f, 4f];
        var expected = values.Select((v, i) => Math.Clamp(v, -s[i / 6], s[i / 6]) / s[i / 6]).ToArray();
        Close.Assert(expected, den.ToArray(), 1e-6, "thresholded x̂₀");
        Assert.That(d.Evaluations, Is.EqualTo(1));
    }

    [Test]
    public void QuantileInterpolatesLikeTorch()
    {
        // torch.quantile(tensor([1., 2., 4., 8.]), 0.5) = 3; 0.995 of 0..199 → 198.005.
        Assert.That(DynamicThresholdDenoiser.AbsQuantile(new float[] { 8, -1, 4, 2 }, 0.5), Is.EqualTo(3).Within(1e-9));
        var ramp = Enumerable.Range(0, 200).Select(i => (float)-i).ToArray();
        Assert.That(DynamicThresholdDenoiser.AbsQuantile(ramp, 0.995), Is.EqualTo(198.005).Within(1e-9));
    }

    [Test]
    public void SchedulerConfigTurnsItOn()
    {
        var config = SchedulerConfig.Parse("""{"thresholding": true, "dynamic_thresholding_ratio": 0.9, "sample_max_value": 2.5, "clip_sample": true}""", "test");
        var b = TestBackends.Cpu;
        var inner = new FixedDenoiser(b, new float[4], [1, 2, 2]);
        var wrapped = config.Wrap(inner);
        Assert.That(wrapped, Is.InstanceOf<DynamicThresholdDenoiser>(), "thresholding takes precedence over clip_sample, as in diffusers");
        Assert.That(((DynamicThresholdDenoiser)wrapped).Ratio, Is.EqualTo(0.9));
        Assert.That(((DynamicThresholdDenoiser)wrapped).MaxValue, Is.EqualTo(2.5));
        Assert.That(SchedulerConfig.Parse("""{"clip_sample": true}""", "test").Wrap(inner), Is.InstanceOf<ClippedDenoiser>());
        Assert.That(new SchedulerConfig().Wrap(inner), Is.SameAs(inner));
        Assert.Throws<ModelFormatException>(() => SchedulerConfig.Parse("""{"thresholding": true, "sample_max_value": 0.5}""", "test"));
    }
}
