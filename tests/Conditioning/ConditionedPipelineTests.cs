using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Conditioning;

/// <summary>
/// <see cref="DiffusionPipeline"/> with condition images: an ensemble per condition, condition-major, independent of the
/// batch size, the same on every backend, and clear errors when the request does not fit the model.
/// </summary>
public class ConditionedPipelineTests
{
    private const int Plane = 64, Cond = 2;
    private string _dir = "";

    [OneTimeSetUp]
    public void Write() => _dir = TinyModel.Write(Directory.CreateTempSubdirectory("dk-condpipe-").FullName, configure: c => c["in_channels"] = 1 + Cond);

    [OneTimeTearDown]
    public void Remove() => Directory.Delete(_dir, true);

    private static GenerationRequest Request(float[] conditions, int perCondition, int batch = 16) =>
        new() { Condition = conditions, NumSamples = perCondition, BatchSize = batch, Steps = 3, Sampler = "dpmpp_2m", Seed = 11 };

    private static float[] Conditions(int n, int seed) => TestData.Normal(n * Cond * Plane, seed);

    [Test]
    public void EachConditionGetsItsEnsembleWhateverTheBatchSize()
    {
        using var pipeline = DiffusionPipeline.Open(_dir, TestBackends.Cpu);
        Assert.That(pipeline.ConditionShape, Is.EqualTo(new[] { Cond, 8, 8 }));
        var conditions = Conditions(3, 1);
        var all = pipeline.Generate(Request(conditions, 2));
        Assert.That(all.Shape, Is.EqualTo(new[] { 6, 1, 8, 8 }));
        // Batches of 4 cut across conditions (0,0 0,1 1,0 1,1 | 2,0 2,1); batches of 1 do not: same samples.
        // The CPU convolution blocks by batch size, so other batch sizes may round differently: 1e-5 of the largest value
        // (a few fp32 ulps per step of the 3-step run).
        double tolerance = 1e-5 * all.Samples.Max(v => Math.Abs(v));
        Assert.That(pipeline.Generate(Request(conditions, 2, batch: 4)).Samples, Is.EqualTo(all.Samples).Within(tolerance));
        Assert.That(pipeline.Generate(Request(conditions, 2, batch: 1)).Samples, Is.EqualTo(all.Samples).Within(tolerance));
        // Condition 1 alone, from sample index 2: the same two samples (condition-major order, noise keyed by index).
        var second = pipeline.Generate(Request(conditions[(Cond * Plane)..(2 * Cond * Plane)], 2) with { FirstSampleIndex = 2 });
        Assert.That(second.Samples, Is.EqualTo(all.Samples[(2 * Plane)..(4 * Plane)]).Within(tolerance));
        // The ensemble members differ (different noise), and so do conditions with the same noise.
        Assert.That(all.Sample(0), Is.Not.EqualTo(all.Sample(1)));
        var other = pipeline.Generate(Request(Conditions(3, 2), 2));
        Assert.That(other.Sample(0), Is.Not.EqualTo(all.Sample(0)));
    }

    [Test]
    public void AConditionedRunBetweenTheStepsOfASessionLeavesItsSamplesAlone()
    {
        using var pipeline = DiffusionPipeline.Open(_dir, TestBackends.Cpu);
        var conditions = Conditions(2, 8);
        var alone = pipeline.Generate(Request(conditions, 2)).Samples;
        using var session = pipeline.Begin(Request(conditions, 2));
        Assert.That(session.Step(), Is.True);
        // Another request with other conditions on the same pipeline sets them on the shared model between two steps.
        var between = pipeline.Generate(Request(Conditions(2, 9), 2)).Samples;
        var stepped = session.Finish().Samples;
        Assert.That(stepped, Is.EqualTo(alone), "the session's conditions are back for its remaining steps");
        Assert.That(between, Is.Not.EqualTo(alone), "the run in between used its own conditions");
    }

    [Test]
    public void GuidanceByTheZeroConditionIsPlainSamplingAtOneAndDiffersElsewhere()
    {
        using var pipeline = DiffusionPipeline.Open(_dir, TestBackends.Cpu);
        var conditions = Conditions(2, 3);
        var plain = pipeline.Generate(Request(conditions, 1)).Samples;
        // w = 1: x̂₀(∅) + 1·(x̂₀(c) − x̂₀(∅)) in fp32; the two network calls round the same way, the combination to a few ulps.
        Assert.That(pipeline.Generate(Request(conditions, 1) with { GuidanceScale = 1 }).Samples, Is.EqualTo(plain).Within(1e-4));
        var guided = pipeline.Generate(Request(conditions, 1) with { GuidanceScale = 3 }).Samples;
        Assert.That(guided.Zip(plain, (a, b) => Math.Abs(a - b)).Max(), Is.GreaterThan(1e-3));
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.Devices))]
    public void TheConditionedRunMatchesTheCpuBackend(string device)
    {
        var conditions = Conditions(2, 4);
        float[] On(Backend backend)
        {
            using var pipeline = DiffusionPipeline.Open(_dir, backend);
            return pipeline.Generate(Request(conditions, 2, batch: 3) with { GuidanceScale = 2 }).Samples;
        }
        var want = On(TestBackends.Cpu);
        var got = On(TestBackends.Get(device));
        // 3 deterministic steps of an fp32 U-Net on two backends with different summation orders: 1e-4 of the largest
        // value per network call, as the U-Net goldens, over 2 evaluations × 3 steps.
        double scale = want.Max(v => Math.Abs(v));
        Assert.That(got.Zip(want, (p, q) => Math.Abs(p - q)).Max(), Is.LessThan(6e-4 * scale));
    }

    [Test]
    public void RequestsThatDoNotFitTheModelAreClearErrors()
    {
        using var pipeline = DiffusionPipeline.Open(_dir, TestBackends.Cpu);
        Assert.That(() => pipeline.Generate(new GenerationRequest { Steps = 2 }),
            Throws.ArgumentException.With.Message.Contains("image-conditioned").And.Message.Contains("2 condition channels"));
        Assert.That(() => pipeline.Generate(Request(new float[Cond * Plane + 5], 1)),
            Throws.TypeOf<ShapeMismatchException>().With.Message.Contains("whole images of [2,8,8]"));
        Assert.That(() => pipeline.Generate(Request(Conditions(2, 5), 3) with { InitNoise = new float[5 * Plane] }),
            Throws.TypeOf<ShapeMismatchException>().With.Message.Contains("6 samples (2 conditions × 3)"));
        var bad = Conditions(1, 6);
        bad[7] = float.NaN;
        Assert.That(() => pipeline.Generate(Request(bad, 1)), Throws.ArgumentException.With.Message.Contains("non-finite value (NaN) in condition 0, element 7"));
        Assert.That(() => pipeline.Generate(Request(Conditions(1, 7), 1) with { ClassLabel = 1 }), Throws.ArgumentException.With.Message.Contains("class label and a condition"));

        var plainDir = TinyModel.Write(Path.Combine(_dir, "plain"));
        using var plain = DiffusionPipeline.Open(plainDir, TestBackends.Cpu);
        Assert.That(plain.ConditionShape, Is.Null);
        Assert.That(() => plain.Generate(Request(new float[Plane], 1)), Throws.ArgumentException.With.Message.Contains("not image-conditioned"));
        Assert.That(() => plain.Generate(new GenerationRequest { GuidanceScale = 2 }), Throws.ArgumentException.With.Message.Contains("class label or a condition image"));
    }
}
