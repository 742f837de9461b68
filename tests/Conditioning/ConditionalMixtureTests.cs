using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Conditioning;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Conditioning;

/// <summary>
/// An analytic check that the condition reaches the denoiser through a whole solver run: the condition image selects a
/// Gaussian component N(μ_k, s²I), whose exact denoiser is x̂₀ = (s²x + σ²μ_k)/(s² + σ²). Each sample must end in the
/// component its own condition names.
/// </summary>
public class ConditionalMixtureTests
{
    private static readonly float[] Means = [-1f, 0.5f, 2f];
    private const double Std = 0.1;

    /// <summary>Condition [B, 1, H, W] filled with a component index k; test-only, so it reads the condition on the host.</summary>
    private sealed class ComponentByCondition(Backend backend, int[] sampleShape) : IConditionalDenoiser
    {
        public Backend Backend => backend;
        public int[] SampleShape => sampleShape;
        public int[] ConditionShape => [1, .. sampleShape[1..]];
        public double SigmaMin => 0.002;
        public double SigmaMax => 80;
        public int Evaluations { get; private set; }

        public void Denoise(Tensor x, Tensor condition, double sigma, Tensor denoised)
        {
            var c = condition.ToArray();
            int per = (int)condition.Shape.Stride(1);
            double s2 = Std * Std, v = sigma * sigma;
            for (int n = 0; n < x.Shape[0]; n++)
            {
                int k = (int)Math.Round(c[n * per]);
                // x̂₀ = a·x + b·μ_k, with μ_k constant over the image: an affine map on the device.
                Backend.Axpby((float)(s2 / (s2 + v)), x.Slice0(n, 1), 0f, null, denoised.Slice0(n, 1));
                using var shift = Backend.Upload(Enumerable.Repeat((float)(v / (s2 + v) * Means[k]), (int)x.Shape.Stride(1)).ToArray(), new Shape([1, .. x.Shape.ToArray()[1..]]));
                Backend.Axpby(1f, denoised.Slice0(n, 1), 1f, shift, denoised.Slice0(n, 1));
            }
            Evaluations++;
        }
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void EverySampleEndsInTheComponentItsConditionNames(string device)
    {
        var b = TestBackends.Get(device);
        int[] shape = [1, 6, 6];
        int[] components = [2, 0, 1, 2, 0, 1]; // an ensemble of two samples per condition
        int plane = 36, batch = components.Length;
        var cond = components.SelectMany(k => Enumerable.Repeat((float)k, plane)).ToArray();
        using var condition = b.Upload(cond, new Shape(batch, 1, 6, 6));
        using var x = b.Allocate(new Shape(batch, 1, 6, 6));
        var sigmas = SigmaGrids.Karras(30, 0.002, 80);
        var inner = new ComponentByCondition(b, shape);
        using var d = new ConditionedDenoiser(inner, condition);
        var options = new SamplerOptions { Seed = 11 };
        using (var ctx = new SamplerContext(d, x, options))
        {
            ctx.Noise(x, -1);
            b.Scale(x, (float)sigmas[0], x);
            new DpmSolverPP2M().Sample(x, sigmas, ctx);
        }
        var result = x.ToArray();
        for (int n = 0; n < batch; n++)
        {
            var s = result.AsSpan(n * plane, plane).ToArray();
            double mean = s.Average(), std = Math.Sqrt(s.Select(v => (v - mean) * (v - mean)).Average());
            // 36 pixels of N(μ_k, 0.1²): the mean is within 5 standard errors (0.083) of μ_k, far from the other components (≥ 1.5 away).
            Assert.That(mean, Is.EqualTo(Means[components[n]]).Within(5 * Std / 6), $"sample {n}, component {components[n]}");
            Assert.That(std, Is.InRange(0.5 * Std, 1.6 * Std), $"sample {n}: the component's spread");
        }
    }
}
