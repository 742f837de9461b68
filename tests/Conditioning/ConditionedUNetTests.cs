using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers.Conditioning;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Conditioning;

/// <summary>An image-conditioned U-Net (in_channels = target + condition): the network sees [c_in·x, condition].</summary>
public class ConditionedUNetTests
{
    private const int Size = 8, Target = 1, Cond = 2, Batch = 3;

    /// <summary>A small random U-Net taking 1 target + 2 condition channels and predicting ε of the target.</summary>
    private static UNet2DModel Net(Backend b) => UNet2DModel.CreateRandom(UNetConfig.Parse($$"""
        {"sample_size": {{Size}}, "in_channels": {{Target + Cond}}, "out_channels": {{Target}}, "block_out_channels": [8, 16],
         "down_block_types": ["DownBlock2D", "AttnDownBlock2D"], "up_block_types": ["AttnUpBlock2D", "UpBlock2D"],
         "layers_per_block": 1, "norm_num_groups": 4, "attention_head_dim": 8}
        """), b, seed: 7);

    private static UNetDenoiser Denoiser(UNet2DModel net) =>
        new(net.Compile(Batch, Size, Size), DiscreteSchedule.Create("linear"), Prediction.Epsilon, [Target, Size, Size]);

    [Test]
    public void TheNetworkSeesTheScaledSampleBesideTheUnscaledCondition()
    {
        var b = TestBackends.Cpu;
        using var net = Net(b);
        using var d = Denoiser(net);
        Assert.That(d.ConditionShape, Is.EqualTo(new[] { Cond, Size, Size }));
        var xs = TestData.Normal(Batch * Target * Size * Size, 1, 3f);
        var cs = TestData.Normal(Batch * Cond * Size * Size, 2);
        using var x = b.Upload(xs, new Shape(Batch, Target, Size, Size));
        using var c = b.Upload(cs, new Shape(Batch, Cond, Size, Size));
        using var got = b.Allocate(x.Shape);
        const double sigma = 2.5;
        using (var cd = new ConditionedDenoiser(d, c)) cd.Denoise(x, sigma, got);

        // Reference: the plan run by hand on the concatenation built on the host, then x̂₀ = x − σ·ε̂.
        double cIn = 1 / Math.Sqrt(sigma * sigma + 1);
        var input = new float[Batch * (Target + Cond) * Size * Size];
        int plane = Size * Size;
        for (int n = 0; n < Batch; n++)
        {
            for (int i = 0; i < Target * plane; i++) input[(n * (Target + Cond)) * plane + i] = (float)(xs[n * Target * plane + i] * cIn);
            for (int i = 0; i < Cond * plane; i++) input[(n * (Target + Cond) + Target) * plane + i] = cs[n * Cond * plane + i];
        }
        using var plan = net.Compile(Batch, Size, Size);
        b.CopyFromHost(input, plan.Sample);
        plan.SetTimesteps(Enumerable.Repeat((float)DiscreteSchedule.Create("linear").SigmaToT(sigma), Batch).ToArray());
        plan.Run();
        var eps = plan.Output.ToArray();
        var want = xs.Select((v, i) => (float)(v - sigma * eps[i])).ToArray();
        // Same ops in the same order on the same backend: only the scaling's rounding can differ (1 ulp of c_in·x).
        Assert.That(got.ToArray(), Is.EqualTo(want).Within(1e-5));
    }

    [Test]
    public void TheConditionChangesTheResultAndGuidanceCombinesBothCalls()
    {
        var b = TestBackends.Cpu;
        using var net = Net(b);
        using var d = Denoiser(net);
        using var x = b.Upload(TestData.Normal(Batch * plane(), 3), new Shape(Batch, Target, Size, Size));
        using var c = b.Upload(TestData.Normal(Batch * Cond * Size * Size, 4), new Shape(Batch, Cond, Size, Size));
        using var zero = b.Allocate(c.Shape);
        float[] Run(Tensor cond, double? w = null)
        {
            using var y = b.Allocate(x.Shape);
            using var cd = new ConditionedDenoiser(d, cond, w);
            cd.Denoise(x, 1.0, y);
            return y.ToArray();
        }
        var conditional = Run(c);
        var unconditional = Run(zero);
        Assert.That(conditional.Zip(unconditional, (p, q) => Math.Abs(p - q)).Max(), Is.GreaterThan(1e-3), "the condition reaches the network");
        var guided = Run(c, 3.0);
        var want = unconditional.Zip(conditional, (u, k) => u + 3 * (k - u)).ToArray();
        // (1 − w)·u + w·k in fp32 against u + w·(k − u): a few ulps of the largest term.
        Assert.That(guided, Is.EqualTo(want).Within(1e-5 * want.Max(v => Math.Abs(v))));
        Assert.That(Run(c, 1.0), Is.EqualTo(conditional).Within(1e-5), "w = 1 is plain conditional sampling");
        static int plane() => Target * Size * Size;
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void TheConditioningPathMatchesTheCpuBackend(string device)
    {
        var b = TestBackends.Get(device);
        var xs = TestData.Normal(Batch * Target * Size * Size, 5, 2f);
        var cs = TestData.Normal(Batch * Cond * Size * Size, 6);
        float[] On(Backend backend)
        {
            using var net = Net(backend);
            using var d = Denoiser(net);
            using var x = backend.Upload(xs, new Shape(Batch, Target, Size, Size));
            using var c = backend.Upload(cs, new Shape(Batch, Cond, Size, Size));
            using var y = backend.Allocate(x.Shape);
            using var cd = new ConditionedDenoiser(d, c, 2.0);
            cd.Denoise(x, 0.7, y);
            return y.ToArray();
        }
        var want = On(TestBackends.Cpu);
        var got = On(b);
        double scale = want.Max(v => Math.Abs(v));
        // fp32 U-Net on two backends with different summation orders: 1e-4 of the largest value, as the U-Net goldens.
        Assert.That(got.Zip(want, (p, q) => Math.Abs(p - q)).Max(), Is.LessThan(1e-4 * scale));
    }

    [Test]
    public void ShapesThatDoNotFitAreClearErrors()
    {
        var b = TestBackends.Cpu;
        using var net = Net(b);
        using var d = Denoiser(net);
        using var x = b.Allocate(new Shape(Batch, Target, Size, Size));
        using var y = b.Allocate(x.Shape);
        Assert.That(() => d.Denoise(x, 1.0, y), Throws.InvalidOperationException.With.Message.Contains("2 condition channels"));
        using var wrongChannels = b.Allocate(new Shape(Batch, 1, Size, Size));
        Assert.That(() => new ConditionedDenoiser(d, wrongChannels), Throws.TypeOf<ShapeMismatchException>().With.Message.Contains("[batch, 2, 8, 8]"));
        using var wrongBatch = b.Allocate(new Shape(Batch - 1, Cond, Size, Size));
        using var cd = new ConditionedDenoiser(d, wrongBatch);
        Assert.That(() => cd.Denoise(x, 1.0, y), Throws.TypeOf<ShapeMismatchException>().With.Message.Contains("3 samples but the condition 2"));
        Assert.That(() => new ConditionedDenoiser(d, wrongBatch, double.NaN), Throws.TypeOf<ArgumentOutOfRangeException>());
        using var plan = net.Compile(Batch, Size, Size);
        Assert.That(() => new UNetDenoiser(plan, DiscreteSchedule.Create("linear"), Prediction.Epsilon, [4, Size, Size]),
            Throws.TypeOf<ShapeMismatchException>().With.Message.Contains("does not fit the network input"));
    }
}
