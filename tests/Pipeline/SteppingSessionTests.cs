using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Pipeline;

/// <summary>
/// An app driving the sampling loop itself (<see cref="DiffusionPipeline.Begin"/>, <see cref="Solver.Begin"/>,
/// <see cref="DiffusersScheduler.Begin"/>): stepping to the end gives Generate's bytes for every kind of solver, reading x
/// and x̂₀ between steps changes nothing, and edits and stops act as the step callback's do.
/// </summary>
public class SteppingSessionTests
{
    private string _dir = "";
    private string _model = "";

    [OneTimeSetUp]
    public void WriteModel()
    {
        Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-stepping-" + Guid.NewGuid().ToString("N")));
        _model = TinyModel.Write(Path.Combine(_dir, "tiny"), seed: 5);
    }

    [OneTimeTearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private static void AssertSameBits(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}");
    }

    /// <summary>
    /// Multistep (dpmpp_2m, unipc_bh2, ipndm), SDE (dpmpp_2m_sde, euler_ancestral, pc_vp), multi-evaluation (heun,
    /// dpm_solver_3), adaptive with a final x̂₀ after its last step (rk45), and diffusers schedulers (the model's
    /// DPM-Solver multistep; DDIM with η = 1, which draws noise every step); 5 samples in batches of 2 cross batch edges.
    /// </summary>
    private static IEnumerable<TestCaseData> Requests()
    {
        foreach (var name in new[] { "dpmpp_2m", "unipc_bh2", "ipndm", "dpmpp_2m_sde", "euler_ancestral", "pc_vp", "heun", "dpm_solver_3", "rk45" })
            yield return new TestCaseData(new GenerationRequest { Sampler = name, Steps = 5, NumSamples = 5, BatchSize = 2, Seed = 21 }).SetName($"{{m}}({name})");
        yield return new TestCaseData(new GenerationRequest { Sampler = GenerationRequest.Diffusers, Steps = 5, NumSamples = 5, BatchSize = 2, Seed = 21 })
            .SetName("{m}(diffusers DPMSolverMultistep)");
        yield return new TestCaseData(new GenerationRequest { Sampler = "heun", Solver = new Heun { SChurn = 20 }, Steps = 4, NumSamples = 3, BatchSize = 2, Seed = 8 })
            .SetName("{m}(heun churn)");
    }

    [TestCaseSource(nameof(Requests))]
    public void SteppingToTheEndGivesTheBytesOfGenerate(GenerationRequest request)
    {
        using var pipeline = DiffusionPipeline.Open(_model, TestBackends.Cpu);
        var expected = pipeline.Generate(request);
        var sigmas = new List<double>();
        using var session = pipeline.Begin(request);
        Assert.That(session.Current, Is.Null, "no step before the first Step()");
        Assert.That(session.Sampler, Is.EqualTo(expected.Sampler));
        while (session.Step())
        {
            // Reading x and x̂₀ between steps (host copies) must not disturb the run.
            var state = session.Current!;
            Assert.That(state.CopyX(), Has.Length.EqualTo(2 * 64));
            if (!expected.Sampler.StartsWith(GenerationRequest.Diffusers)) Assert.That(state.CopyDenoised(), Is.All.Not.NaN);
            sigmas.Add(state.Sigma);
        }
        Assert.That(session.Finished && !session.Stopped);
        var result = session.Finish();
        AssertSameBits(result.Samples, expected.Samples, "stepped vs Generate");
        Assert.That(result.Evaluations, Is.EqualTo(expected.Evaluations), "NFE");
        Assert.That(result.Stopped, Is.False);
        Assert.That(session.StepsDone, Is.EqualTo(sigmas.Count));
        if (request.Sampler != "rk45") Assert.That(session.StepsDone, Is.EqualTo(session.TotalSteps), "every step of every batch");
        Assert.That(session.Finish(), Is.SameAs(result), "Finish again returns the same result");
        Assert.That(session.Step(), Is.False);
    }

    [Test]
    public void ATinyRunOnIlgpuCpuSteppedGivesTheBytesOfGenerate()
    {
        using var pipeline = DiffusionPipeline.Open(_model, TestBackends.IlgpuCpu);
        var request = new GenerationRequest { Sampler = "dpmpp_2m_sde", Steps = 3, NumSamples = 2, Seed = 4 };
        var expected = pipeline.Generate(request);
        using var session = pipeline.Begin(request);
        int steps = 0;
        while (session.Step()) steps++;
        Assert.That(steps, Is.EqualTo(3));
        AssertSameBits(session.Finish().Samples, expected.Samples, "stepped vs Generate on ilgpu-cpu");
    }

    [Test]
    public void EditingXBetweenStepsActsAsTheStepCallbacksEdit()
    {
        using var pipeline = DiffusionPipeline.Open(_model, TestBackends.Cpu);
        var request = new GenerationRequest { Sampler = "dpmpp_2m", Steps = 6, NumSamples = 3, BatchSize = 2, Seed = 3 };
        static float[] Damped(StepState s) => s.CopyX().Select(v => v * 0.5f).ToArray();
        var viaCallback = pipeline.Generate(request with { OnStep = s => { if (s.Step == 2) s.SetX(Damped(s)); } });
        using var session = pipeline.Begin(request);
        while (session.Step())
            if (session.Current!.Step == 2) session.Current.SetX(Damped(session.Current));
        var stepped = session.Finish();
        AssertSameBits(stepped.Samples, viaCallback.Samples, "edit between steps vs edit in the callback");
        Assert.That(stepped.Samples, Is.Not.EqualTo(pipeline.Generate(request).Samples), "the edit changed the run");
    }

    [Test]
    public void StoppingReturnsTheBatchesSoFarAsTheCallbacksStopDoes()
    {
        using var pipeline = DiffusionPipeline.Open(_model, TestBackends.Cpu);
        var request = new GenerationRequest { Sampler = "euler_ancestral", Steps = 6, NumSamples = 5, BatchSize = 2, Seed = 6 };
        var viaCallback = pipeline.Generate(request with { OnStep = s => { if (s.FirstSample == 2 && s.Step == 3) s.Stop(); } });
        using var session = pipeline.Begin(request);
        while (session.Step())
            if (session.Current!.FirstSample == 2 && session.Current.Step == 3) session.Stop();
        var stepped = session.Finish();
        Assert.That(stepped.Stopped && viaCallback.Stopped);
        Assert.That(stepped.Count, Is.EqualTo(4));
        AssertSameBits(stepped.Samples, viaCallback.Samples, "stop between steps vs stop in the callback");

        // StepState.Stop() from the app ends the run the same way.
        using var second = pipeline.Begin(request);
        while (second.Step())
            if (second.Current!.FirstSample == 2 && second.Current.Step == 3) second.Current.Stop();
        AssertSameBits(second.Finish().Samples, viaCallback.Samples, "StepState.Stop between steps");

        // A stop before the first step gives no samples.
        using var third = pipeline.Begin(request);
        third.Stop();
        Assert.That(third.Finish().Count, Is.Zero);
    }

    [Test]
    public void TheSessionPinsItsModelAndOtherRunsMayInterleave()
    {
        using var pipeline = DiffusionPipeline.Open(_model, TestBackends.Cpu);
        var request = new GenerationRequest { Sampler = "dpmpp_2m_sde", Steps = 4, NumSamples = 2, Seed = 12 };
        var expected = pipeline.Generate(request);
        using (var session = pipeline.Begin(request))
        {
            Assert.That(session.Step());
            // Same settings: another run between steps leaves this one's samples unchanged.
            var other = pipeline.Generate(request with { Seed = 13, Sampler = "heun" });
            Assert.That(other.Count, Is.EqualTo(2));
            // Other settings would recompile the model under the session: refused.
            Assert.Throws<InvalidOperationException>(() => pipeline.Generate(request with { BatchSize = 1 }));
            AssertSameBits(session.Finish().Samples, expected.Samples, "with a run in between");
        }
        Assert.That(pipeline.Generate(request with { BatchSize = 1 }).Count, Is.EqualTo(2), "after disposal the model may change");
    }

    [Test]
    public void CancellationStopsTheNextStepAndDisposedSessionsRefuse()
    {
        using var pipeline = DiffusionPipeline.Open(_model, TestBackends.Cpu);
        using var cts = new CancellationTokenSource();
        var session = pipeline.Begin(new GenerationRequest { Sampler = "euler", Steps = 5, NumSamples = 1 }, cancellationToken: cts.Token);
        Assert.That(session.Step());
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => session.Step());
        Assert.That(session.Finished);
        Assert.That(session.Step(), Is.False);
        Assert.Throws<InvalidOperationException>(() => session.Finish(), "a failed run has no result");
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.Step());
        Assert.Throws<ObjectDisposedException>(() => session.Finish());
    }

    [Test]
    public void SteppingFromThreadPoolThreadsWorks()
    {
        using var pipeline = DiffusionPipeline.Open(_model, TestBackends.Cpu);
        var request = new GenerationRequest { Sampler = "unipc_bh2", Steps = 5, NumSamples = 3, BatchSize = 2, Seed = 2 };
        var expected = pipeline.Generate(request);
        using var session = pipeline.Begin(request);
        // Each step on whatever thread the pool gives: the locks a step takes are released within the step.
        while (Task.Run(session.Step).Result) { }
        AssertSameBits(Task.Run(session.Finish).Result.Samples, expected.Samples, "stepped from the pool");
    }

    /// <summary>The solver level: <see cref="Solver.Begin"/> on the caller's tensor gives <see cref="Solver.Sample"/>'s bytes.</summary>
    [TestCase("dpmpp_3m_sde")]
    [TestCase("lms")]
    [TestCase("dpm_solver_2")]
    [TestCase("annealed_langevin")]
    public void ASolversStepsGiveTheBytesOfItsSampleLoop(string name)
    {
        using var model = DiffusionModel.Open(_model, TestBackends.Cpu, 2);
        var solver = SamplerRegistry.Get(name);
        var sigmas = model.Sigmas("karras", 6);
        var options = new SamplerOptions { Seed = 17 };
        var b = model.Backend;
        using var exclusive = model.Exclusive();
        using var x1 = b.Allocate(new Shape([2, 1, 8, 8]));
        using var x2 = b.Allocate(new Shape([2, 1, 8, 8]));
        b.RandomNormal(x1, 1, 0);
        b.Scale(x1, (float)sigmas[0], x1);
        b.Copy(x1, x2);
        using (var ctx = new SamplerContext(model.Denoiser, x1, options)) solver.Sample(x1, sigmas, ctx);
        using var run = solver.Begin(x2, sigmas, model.Denoiser, options);
        var seen = new List<int>();
        while (run.Step()) seen.Add(run.Current!.Step);
        Assert.That(seen, Is.EqualTo(Enumerable.Range(0, seen.Count)));
        Assert.That(run.Finished && !run.Stopped);
        Assert.That(run.X, Is.SameAs(x2));
        AssertSameBits(x2.ToArray(), x1.ToArray(), $"{name}: Begin/Step vs Sample");
    }

    [Test]
    public void ASchedulersStepsGiveTheBytesOfItsSampleLoop()
    {
        using var model = DiffusionModel.Open(_model, TestBackends.Cpu, 2);
        var scheduler = DiffusersScheduler.FromConfig(model.Schedule with { ClassName = "DDIMScheduler" }, eta: 1);
        var options = new SamplerOptions { Seed = 5 };
        var b = model.Backend;
        using var exclusive = model.Exclusive();
        using var x1 = b.Allocate(new Shape([2, 1, 8, 8]));
        using var x2 = b.Allocate(new Shape([2, 1, 8, 8]));
        b.RandomNormal(x1, 2, 0);
        b.Copy(x1, x2);
        scheduler.Sample(model.Network, x1, 7, options);
        using var run = scheduler.Begin(model.Network, x2, 7, options);
        var timesteps = new List<double>();
        while (run.Step())
        {
            Assert.That(run.Current!.Denoised, Is.Null);
            timesteps.Add(run.Current.Timestep);
        }
        Assert.That(timesteps, Is.EqualTo(scheduler.Timesteps(7).Select(t => (double)t)));
        AssertSameBits(x2.ToArray(), x1.ToArray(), "DDIM η = 1: Begin/Step vs Sample");
        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.Begin(model.Network, x2, 0));
    }
}
