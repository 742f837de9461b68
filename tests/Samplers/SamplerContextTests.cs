using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

/// <summary>The sampler's NaN/Inf check: flags kept on the device, read every few steps, the failing step still named.</summary>
public class SamplerContextTests
{
    /// <summary>A Gaussian denoiser that turns sample <c>Sample</c>'s estimate into NaN at evaluation <c>PoisonAt</c> (1-based).</summary>
    private sealed class PoisonedDenoiser(Backend b, int poisonAt, int sample) : IDenoiser, IDisposable
    {
        private readonly GaussianMixtureDenoiser _inner = new(b, [1, 2, 2], [1.0], [[0.5f]], [0.5]);
        public Backend Backend => _inner.Backend;
        public int[] SampleShape => _inner.SampleShape;
        public double SigmaMin => _inner.SigmaMin;
        public double SigmaMax => _inner.SigmaMax;
        public int Evaluations => _inner.Evaluations;

        public void Denoise(Tensor x, double sigma, Tensor denoised)
        {
            _inner.Denoise(x, sigma, denoised);
            if (_inner.Evaluations == poisonAt) Backend.Fill(denoised.Slice0(sample, 1), float.NaN);
        }

        public void Dispose() => _inner.Dispose();
    }

    private static IEnumerable<TestCaseData> Cases() =>
        GpuTargets.AllDevices().SelectMany(d => new[] { 1, 12, 16, 17, 30 }.Select(at =>
        {
            string device = (string)d.Arguments[0]!;
            var data = new TestCaseData(at, device).SetName($"{{m}}(step {at}, {device})");
            return device == "cuda" ? data.SetCategory(GpuTargets.Category) : data;
        }));

    [TestCaseSource(nameof(Cases))]
    public void NaNIsReportedWithTheStepThatProducedItWithinAFewSteps(int poisonAt, string device)
    {
        var b = TestBackends.Get(device);
        using var d = new PoisonedDenoiser(b, poisonAt, sample: 2);
        using var x = b.Upload(TestData.Normal(3 * 4, 1, 10f), new Shape(3, 1, 2, 2));
        var seen = new List<int>();
        var options = new SamplerOptions { FirstSampleIndex = 40, Callback = s => seen.Add(s.Step) };
        var sigmas = SigmaGrids.Karras(30, 0.05, 10);
        using var ctx = new SamplerContext(d, x, options);
        var e = Assert.Throws<NumericalInstabilityException>(() => new EulerAncestral { Eta = null }.Sample(x, sigmas, ctx))!;
        Assert.That(e.Message, Does.Contain($"step {poisonAt} of 30").And.Contain("sample 42"), e.Message);
        // Flags are read every FiniteCheckInterval steps and after the last: the run stops at the next read.
        int lastRead = Math.Min(30, (poisonAt + SamplerContext.FiniteCheckInterval - 1) / SamplerContext.FiniteCheckInterval * SamplerContext.FiniteCheckInterval);
        Assert.That(d.Evaluations, Is.EqualTo(lastRead), "euler evaluates once per step and stops at the first read after the NaN");
        Assert.That(seen, Is.EqualTo(Enumerable.Range(0, lastRead - 1)), "the callback saw every step before the failing read");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void AFiniteRunCompletesAndCheckingCanBeTurnedOff(string device)
    {
        var b = TestBackends.Get(device);
        using var clean = new PoisonedDenoiser(b, poisonAt: int.MaxValue, sample: 0);
        using var x = b.Upload(TestData.Normal(2 * 4, 2, 10f), new Shape(2, 1, 2, 2));
        using (var ctx = new SamplerContext(clean, x, new SamplerOptions())) new EulerAncestral { Eta = null }.Sample(x, SigmaGrids.Karras(20, 0.05, 10), ctx);
        Assert.That(x.ToArray(), Is.All.Not.NaN);

        using var poisoned = new PoisonedDenoiser(b, poisonAt: 3, sample: 1);
        using var y = b.Upload(TestData.Normal(2 * 4, 3, 10f), new Shape(2, 1, 2, 2));
        using (var ctx = new SamplerContext(poisoned, y, new SamplerOptions { CheckFinite = false })) new EulerAncestral { Eta = null }.Sample(y, SigmaGrids.Karras(5, 0.05, 10), ctx);
        Assert.That(y.ToArray()[4..], Is.All.NaN, "unchecked, the NaN stays in the sample");
    }
}
