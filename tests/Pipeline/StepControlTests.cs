using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Pipeline;

/// <summary>
/// Step callbacks (x, x̂₀, σ, t; editing x; stopping) and custom denoisers, on analytic denoisers whose every value is
/// known: for data N(0, 1), E[x₀ | x] = x/(1 + σ²); for a point mass at c, x̂₀ = c.
/// </summary>
public class StepControlTests
{
    private static readonly SchedulerConfig Ddpm = new();
    private static double SigmaMin => Ddpm.CreateSchedule().SigmaMin;
    private static double SigmaMax => Ddpm.CreateSchedule().SigmaMax;

    private static FunctionDenoiser Gaussian() => FunctionDenoiser.OnHost(TestBackends.Cpu, [1, 4, 4], SigmaMin, SigmaMax, (x, sigma, den) =>
    {
        float scale = (float)(1 / (1 + sigma * sigma));
        for (int i = 0; i < x.Length; i++) den[i] = x[i] * scale;
    });

    private static FunctionDenoiser PointMass(float c) => FunctionDenoiser.OnDevice(TestBackends.Cpu, [1, 4, 4], SigmaMin, SigmaMax,
        (x, sigma, den) => den.Backend.Fill(den, c));

    [Test]
    public void TheCallbackSeesEachStepsSigmaTimestepXAndTheDenoisersX0()
    {
        using var pipeline = DiffusionPipeline.FromDenoiser(Gaussian());
        var states = new List<(int Step, int Steps, double Sigma, double Next, double T, float[] X, float[] Den)>();
        var request = new GenerationRequest
        {
            Sampler = "euler",
            Steps = 7,
            NumSamples = 2,
            OnStep = s => states.Add((s.Step, s.Steps, s.Sigma, s.NextSigma, s.Timestep, s.CopyX(), s.CopyDenoised()!)),
        };
        var result = pipeline.Generate(request);
        var sigmas = pipeline.Prepare(request).Sigmas("karras", 7);
        Assert.That(states.Select(s => s.Step), Is.EqualTo(Enumerable.Range(0, 7)));
        Assert.That(states.Select(s => s.Sigma), Is.EqualTo(sigmas[..^1]));
        Assert.That(states.Select(s => s.Next), Is.EqualTo(sigmas[1..]));
        Assert.That(states.Select(s => s.T), Is.EqualTo(sigmas[..^1].Select(Ddpm.CreateSchedule().SigmaToT)));
        for (int i = 1; i < states.Count; i++)
        {
            // x̂₀ of step i is the denoiser at the x step i−1 left, exactly (host function, copied without arithmetic).
            float scale = (float)(1 / (1 + sigmas[i] * sigmas[i]));
            Assert.That(states[i].Den, Is.EqualTo(states[i - 1].X.Select(v => v * scale).ToArray()), $"x̂₀ at step {i}");
            // Euler: x ← x + (x − x̂₀)/σ·(σ_next − σ), in float32 on the backend; 1e-5 relative covers the operation order.
            double h = (sigmas[i + 1] - sigmas[i]) / sigmas[i];
            for (int k = 0; k < 32; k++)
            {
                double expected = states[i - 1].X[k] + (states[i - 1].X[k] - states[i].Den[k]) * h;
                Assert.That(states[i].X[k], Is.EqualTo(expected).Within(1e-5 * Math.Abs(expected) + 1e-6), $"x at step {i}, element {k}");
            }
        }
        Assert.That(result.Samples, Is.EqualTo(states[^1].X), "the samples are x after the last step");
    }

    [Test]
    public void EditingXSteersTheRun()
    {
        using var pipeline = DiffusionPipeline.FromDenoiser(Gaussian());
        var request = new GenerationRequest { Sampler = "euler", Steps = 6, NumSamples = 3, Seed = 2 };
        var plain = pipeline.Generate(request).Samples;
        // Zeroing x at step 2: the Gaussian's x̂₀ of 0 is 0, so every later Euler step keeps it there.
        var zeroed = pipeline.Generate(request with { OnStep = s => { if (s.Step == 2) s.SetX(new float[s.X.Length]); } }).Samples;
        Assert.That(zeroed, Is.All.EqualTo(0f));
        Assert.That(plain, Has.Some.Not.EqualTo(0f));
        // Editing after the last step is the result.
        var last = pipeline.Generate(request with { OnStep = s => { if (s.Step == s.Steps - 1) s.SetX(Enumerable.Repeat(0.25f, (int)s.X.Length).ToArray()); } });
        Assert.That(last.Samples, Is.All.EqualTo(0.25f));
        Assert.That(() => pipeline.Generate(request with { OnStep = s => s.SetX(new float[3]) }), Throws.ArgumentException);
    }

    [Test]
    public void StoppingReturnsTheSamplesSoFar()
    {
        using var pipeline = DiffusionPipeline.FromDenoiser(Gaussian());
        var request = new GenerationRequest { Sampler = "heun", Steps = 8, NumSamples = 5, BatchSize = 2, Seed = 4 };
        var full = pipeline.Generate(request);
        float[]? atStop = null;
        var stopped = pipeline.Generate(request with
        {
            OnStep = s =>
            {
                if (s.FirstSample != 2 || s.Step != 3) return;
                atStop = s.CopyX();
                s.Stop();
            },
        });
        Assert.That(stopped.Stopped);
        Assert.That(stopped.Count, Is.EqualTo(4), "the first batch and the stopped one");
        Assert.That(stopped.Samples[..32], Is.EqualTo(full.Samples[..32]), "the batch before the stop is complete");
        Assert.That(stopped.Samples[32..], Is.EqualTo(atStop), "the stopped batch as the stop left it");
        Assert.That(full.Stopped, Is.False);
    }

    [Test]
    public void ADiffusersSchedulerReportsItsTimestepsAndStops()
    {
        using var pipeline = DiffusionPipeline.FromDenoiser(Gaussian(), Ddpm with { ClassName = "DDIMScheduler" });
        var timesteps = new List<double>();
        var result = pipeline.Generate(new GenerationRequest
        {
            Steps = 10,
            NumSamples = 2,
            OnStep = s =>
            {
                Assert.That(s.Denoised, Is.Null, "a scheduler's x̂₀ stays inside its step");
                timesteps.Add(s.Timestep);
                if (s.Step == 4) s.Stop();
            },
        });
        Assert.That(result.Sampler, Is.EqualTo("diffusers DDIMScheduler"));
        Assert.That(result.Stopped);
        var expected = DiffusersScheduler.FromConfig(Ddpm with { ClassName = "DDIMScheduler" }).Timesteps(10).Take(5).Select(t => (double)t);
        Assert.That(timesteps, Is.EqualTo(expected));
    }

    /// <summary>Every solver and a diffusers scheduler run on a C# function; a point mass at c is where they all end.</summary>
    [TestCaseSource(nameof(SolverNames))]
    public void EverySolverRunsOnACustomDenoiser(string name)
    {
        using var pipeline = DiffusionPipeline.FromDenoiser(PointMass(0.3f), Ddpm with { ClassName = "EulerDiscreteScheduler" });
        var result = pipeline.Generate(new GenerationRequest { Sampler = name, Steps = 12, NumSamples = 3, Seed = 9 });
        Assert.That(result.Sampler, Does.Contain(name == GenerationRequest.Diffusers ? "EulerDiscreteScheduler" : name));
        Assert.That(result.Evaluations, Is.GreaterThan(0));
        // Grids end at 0 (or σ_min ≈ 0.01 for the score-SDE families), where x is c plus at most σ_min-sized noise.
        Assert.That(result.Samples, Is.All.EqualTo(0.3f).Within(0.05f), name);
    }

    private static IEnumerable<string> SolverNames() => SamplerRegistry.Solvers.Select(s => s.Name).Append(GenerationRequest.Diffusers);

    [Test]
    public void DiffusionModelFromDenoiserRunsWithSampleRunnerAndChecksItsArguments()
    {
        using var model = DiffusionModel.FromDenoiser(Gaussian(), 2);
        var samples = SampleRunner.Draw(model, SamplerRegistry.Get("unipc_bh2"), model.Sigmas("karras", 10), 3, new SamplerOptions { Seed = 1 });
        Assert.That(samples, Has.Length.EqualTo(48));
        Assert.That(samples, Is.All.Not.NaN);
        Assert.Throws<ArgumentOutOfRangeException>(() => DiffusionModel.FromDenoiser(Gaussian(), 0));
        Assert.Throws<ArgumentException>(() => DiffusionModel.FromDenoiser(Gaussian(), 1, Ddpm with { BetaSchedule = "cubic" }));
        Assert.Throws<ArgumentException>(() => FunctionDenoiser.OnHost(TestBackends.Cpu, [], 0.1, 1, (_, _, _) => { }));
        Assert.Throws<ArgumentOutOfRangeException>(() => FunctionDenoiser.OnHost(TestBackends.Cpu, [1], 1, 0.5, (_, _, _) => { }));
    }
}
