using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Cli;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Pipeline;

/// <summary>The façade gives the bytes of dk sample and of the sampling calls it wraps, for solvers and diffusers schedulers.</summary>
public class DiffusionPipelineTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);
    private string Gmm => "gmm:" + P("gmm.json");

    [SetUp]
    public void MakeDir()
    {
        Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-pipeline-" + Guid.NewGuid().ToString("N")));
        File.WriteAllText(P("gmm.json"), """{"shape": [1, 8, 8], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2], "beta_schedule": "linear"}""");
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private static void AssertSameBits(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}");
    }

    [Test]
    public void ASolverRunGivesTheBytesOfDkSampleAndOfSampleRunner()
    {
        var (code, _, err) = CliRunner.Run("sample", "--model", Gmm, "--sampler", "dpmpp_2m_sde", "--steps", "9", "--num-samples", "5", "--batch-size", "2",
            "--seed", "11", "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        using var pipeline = DiffusionPipeline.Open(Gmm, TestBackends.Cpu);
        var result = pipeline.Generate(new GenerationRequest { Sampler = "dpmpp_2m_sde", Steps = 9, NumSamples = 5, BatchSize = 2, Seed = 11 });
        Assert.That(result.Shape, Is.EqualTo(new[] { 5, 1, 8, 8 }));
        Assert.That(result.Sampler, Is.EqualTo("dpmpp_2m_sde"));
        AssertSameBits(result.Samples, Npy.Read(P("out/samples.npy")).Floats!, "pipeline vs dk sample");

        // The call the pipeline wraps, made by hand: the façade adds nothing to the numbers.
        using var model = DiffusionModel.Open(Gmm, TestBackends.Cpu, 2);
        var direct = SampleRunner.Draw(model, SamplerRegistry.Get("dpmpp_2m_sde"), model.Sigmas("karras", 9), 5, new SamplerOptions { Seed = 11 });
        AssertSameBits(result.Samples, direct, "pipeline vs SampleRunner");
        Assert.That(result.Evaluations, Is.EqualTo(3 * 9), "NFE: 3 batches of 9 steps, one evaluation each");
    }

    [Test]
    public void TheModelsDiffusersSchedulerGivesTheBytesOfDkSample()
    {
        var modelDir = TinyModel.Write(P("tiny"));
        var (code, _, err) = CliRunner.Run("sample", "--model", modelDir, "--steps", "4", "--num-samples", "3", "--batch-size", "2", "--seed", "3",
            "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        using var pipeline = DiffusionPipeline.Open(modelDir, TestBackends.Cpu);
        var result = pipeline.Generate(new GenerationRequest { Steps = 4, NumSamples = 3, BatchSize = 2, Seed = 3 });
        Assert.That(result.Sampler, Is.EqualTo("diffusers DPMSolverMultistepScheduler"));
        AssertSameBits(result.Samples, Npy.Read(P("out/samples.npy")).Floats!, "pipeline vs dk sample");

        using var model = DiffusionModel.Open(modelDir, TestBackends.Cpu, 2);
        var direct = SampleRunner.Draw(model, DiffusersScheduler.FromConfig(model.Schedule), 4, 3, new SamplerOptions { Seed = 3 });
        AssertSameBits(result.Samples, direct, "pipeline vs SampleRunner");
    }

    [Test]
    public void Img2ImgFromOnePngGivesTheBytesOfDkSampleWithThatPng()
    {
        var image = Enumerable.Range(0, 64).Select(i => (i % 8) / 7f).ToArray();
        SampleImages.SavePng(P("start.png"), image, [1, 1, 8, 8], 0, 0f, 1f);
        var (code, output, err) = CliRunner.Run("sample", "--model", Gmm, "--sampler", "euler", "--steps", "10", "--num-samples", "3", "--init-image", P("start.png"),
            "--strength", "0.5", "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("img2img from σ"));
        var (pixels, shape) = SampleImages.ReadPng(P("start.png"));
        Assert.That(shape, Is.EqualTo(new[] { 1, 8, 8 }));
        // 8-bit PNG: each pixel comes back as the nearest k/255 (the ramp 0, 1/7, … lands within half a level).
        for (int i = 0; i < 64; i++) Assert.That(pixels[i], Is.EqualTo(image[i]).Within(0.5f / 255 + 1e-6f));
        using var pipeline = DiffusionPipeline.Open(Gmm, TestBackends.Cpu);
        var result = pipeline.Generate(new GenerationRequest { Sampler = "euler", Steps = 10, NumSamples = 3, InitImage = pixels, Strength = 0.5 });
        AssertSameBits(result.Samples, Npy.Read(P("out/samples.npy")).Floats!, "pipeline vs dk sample --init-image png");
        Assert.That(result.StartSigma, Is.LessThan(pipeline.Prepare(new GenerationRequest()).Denoiser.SigmaMax));
    }

    [Test]
    public void ProgressCountsEveryStepOfEveryBatch()
    {
        using var pipeline = DiffusionPipeline.Open(Gmm, TestBackends.Cpu);
        var request = new GenerationRequest { Sampler = "heun", Steps = 6, NumSamples = 5, BatchSize = 2 };
        var reports = new List<GenerationProgress>();
        var result = pipeline.Generate(request, new SyncProgress<GenerationProgress>(reports.Add));
        Assert.That(pipeline.TotalSteps(request), Is.EqualTo(18));
        Assert.That(reports, Has.Count.EqualTo(18));
        Assert.That(reports.Select(r => r.StepsDone), Is.EqualTo(Enumerable.Range(1, 18).Select(i => (long)i)));
        Assert.That(reports[^1].Fraction, Is.EqualTo(1.0));
        Assert.That(reports.Select(r => r.SamplesDone).Distinct(), Is.EqualTo(new[] { 0, 2, 4 }));
        Assert.That(result.Count, Is.EqualTo(5));
        Assert.That(result.Stopped, Is.False);
    }

    [Test]
    public async Task GenerateAsyncGivesTheSameSamplesAndCancelsMidRun()
    {
        using var pipeline = DiffusionPipeline.Open(Gmm, TestBackends.Cpu);
        var request = new GenerationRequest { Sampler = "euler_ancestral", Steps = 8, NumSamples = 3, Seed = 5 };
        var sync = pipeline.Generate(request);
        var async = await pipeline.GenerateAsync(request);
        AssertSameBits(async.Samples, sync.Samples, "async vs sync");

        using var cancel = new CancellationTokenSource();
        int steps = 0;
        var cancelled = request with
        {
            OnStep = s =>
            {
                if (++steps == 3) cancel.Cancel();
            },
        };
        Assert.That(async () => await pipeline.GenerateAsync(cancelled, cancellationToken: cancel.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(steps, Is.EqualTo(3), "the run stops at the end of the step after the token fired");
        // A cancelled run leaves the pipeline usable.
        AssertSameBits(pipeline.Generate(request).Samples, sync.Samples, "after a cancelled run");
    }

    [Test]
    public void SaveWritesNpyAndPng()
    {
        using var pipeline = DiffusionPipeline.Open(Gmm, TestBackends.Cpu);
        var result = pipeline.Generate(new GenerationRequest { Sampler = "euler", Steps = 4, NumSamples = 3 });
        result.Save(P("s.npy"));
        result.Save(P("grid.png"));
        result.SavePng(P("one.png"), 2);
        var back = Npy.Read(P("s.npy"));
        Assert.That(back.Shape, Is.EqualTo(result.Shape));
        AssertSameBits(back.Floats!, result.Samples, "npy round trip");
        var (one, shape) = SampleImages.ReadPng(P("one.png"));
        Assert.That(shape, Is.EqualTo(new[] { 1, 8, 8 }));
        var expected = result.Sample(2);
        for (int i = 0; i < 64; i++) Assert.That(one[i], Is.EqualTo(Math.Clamp((expected[i] + 1) / 2, 0, 1)).Within(0.5f / 255 + 1e-6f));
        Assert.That(SampleImages.ReadPng(P("grid.png")).Shape, Is.EqualTo(new[] { 1, 22, 22 }), "2×2 grid of 8×8 with 2-pixel gaps");
        Assert.Throws<ArgumentException>(() => result.Save(P("s.txt")));
    }

    [Test]
    public void BadRequestsAreClearErrors()
    {
        using var pipeline = DiffusionPipeline.Open(Gmm, TestBackends.Cpu);
        Assert.That(() => pipeline.Generate(new GenerationRequest { Steps = 0 }), Throws.ArgumentException.With.Message.Contains("steps"));
        Assert.That(() => pipeline.Generate(new GenerationRequest { Sampler = "nope" }), Throws.ArgumentException.With.Message.Contains("unknown sampler 'nope'"));
        Assert.That(() => pipeline.Generate(new GenerationRequest { ClassLabel = 1 }), Throws.ArgumentException.With.Message.Contains("class"));
        Assert.That(() => pipeline.Generate(new GenerationRequest { Sampler = "euler", Eta = 0.5 }), Throws.ArgumentException.With.Message.Contains("η"));
        Assert.That(() => pipeline.Generate(new GenerationRequest { Sampler = "euler", InitImage = new float[5] }), Throws.InstanceOf<ShapeMismatchException>());
        Assert.That(() => DiffusionPipeline.Open(P("missing"), TestBackends.Cpu), Throws.InstanceOf<DirectoryNotFoundException>().With.Message.Contains("missing"));
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to a synchronization context).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
