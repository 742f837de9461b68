using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Plan;

/// <summary>
/// Whole sampling batches replayed as one graph (<see cref="BatchGraph"/>), through a stand-in capture on ILGPU's CPU
/// accelerator (the same host code as CUDA): the first batch runs eagerly, the second is captured and launched, later
/// ones are launches; the samples are the eager ones bit for bit; the captured batch stages its uploads into the kept
/// block, waits for nothing and allocates nothing; loops a graph would freeze wrongly stay eager, with the reason.
/// </summary>
[NonParallelizable] // the shared ILGPU backend's graph switch and counters must see this fixture's runs alone
public class BatchGraphTests
{
    private const int Steps = 3;
    private const int Samples = 4;

    private string _dir = null!;
    private DiffusionModel _model = null!;

    private static IlgpuBackend Backend => TestBackends.IlgpuCpu;

    [OneTimeSetUp]
    public void OpenModel()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"dk-batch-graph-{Guid.NewGuid():N}");
        _model = DiffusionModel.Open(TinyModel.WriteSmallest(_dir), Backend, batch: 1);
    }

    [OneTimeTearDown]
    public void CloseModel()
    {
        _model.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [TearDown]
    public void GraphsOff()
    {
        Backend.CudaGraphs = CudaGraphMode.Off;
        Backend.SimulatedGraphCapture = null;
    }

    private SamplingSession Begin(string solver, SamplerOptions? options = null, float[]? init = null, Action<RunProgress>? progress = null) =>
        Begin(SamplerRegistry.Get(solver), options, init, progress);

    private SamplingSession Begin(Solver solver, SamplerOptions? options = null, float[]? init = null, Action<RunProgress>? progress = null) =>
        SampleRunner.Begin(_model, solver, _model.Sigmas("karras", Steps), Samples, options ?? new SamplerOptions { Seed = 11 }, init, progress);

    private float[] Eager(Solver solver)
    {
        using var session = Begin(solver);
        return session.Finish();
    }

    private float[] Eager(string solver, SamplerOptions? options = null, float[]? init = null)
    {
        using var session = Begin(solver, options, init);
        return session.Finish();
    }

    private static RunningCapture GraphsOn()
    {
        var capture = new RunningCapture();
        Backend.SimulatedGraphCapture = capture;
        Backend.CudaGraphs = CudaGraphMode.On;
        return capture;
    }

    [Test]
    public void ADeterministicLoopIsCapturedOnceAndReplayedWithTheEagerSamples()
    {
        var expected = Eager("dpmpp_2m");
        var capture = GraphsOn();
        var progress = new List<RunProgress>();
        using var session = Begin("dpmpp_2m", progress: progress.Add);
        long ringUploads = Backend.StagedUploads;
        var samples = session.Finish();
        var graph = session.BatchGraph!;
        Close.Identical(expected, samples, "graph-replayed batches vs eager");
        Assert.Multiple(() =>
        {
            Assert.That(graph.FallbackReason, Is.Null);
            Assert.That(capture.Captured, Is.EqualTo(1), "one capture for the session");
            Assert.That(graph.Replays, Is.EqualTo(Samples - 1), "every batch after the first launches the graph");
            // The first batch allocated every tensor the loop uses; the captured one and the replays reuse them.
            Assert.That(graph.Scratch.Allocations, Is.EqualTo(3), "x̂₀, x̂₀_prev and the finite flags");
            // Each batch still reports each of its steps.
            Assert.That(progress.Select(p => (p.SamplesDone, p.Step.Step)),
                Is.EqualTo(Enumerable.Range(0, Samples).SelectMany(n => Enumerable.Range(0, Steps).Select(i => (n, i)))));
            Assert.That(Backend.StagedUploads, Is.GreaterThan(ringUploads), "uploads outside the capture go through the ring");
        });
    }

    [Test]
    public void TheCapturedBatchStagesIntoTheKeptBlockAndNeverWaits()
    {
        // A capture that checks, while it records, what a real one would refuse or replay wrongly.
        long waitsInCapture = -1, ringUploadsInCapture = -1, allocationsInCapture = -1;
        var checking = new CheckingCapture(work =>
        {
            long waits = Backend.HostSynchronizations, uploads = Backend.StagedUploads, live = Backend.AllocatedBytes;
            work();
            (waitsInCapture, ringUploadsInCapture, allocationsInCapture) =
                (Backend.HostSynchronizations - waits, Backend.StagedUploads - uploads, Backend.AllocatedBytes - live);
        });
        Backend.SimulatedGraphCapture = checking;
        Backend.CudaGraphs = CudaGraphMode.On;
        using var session = Begin("dpmpp_2m");
        session.Finish();
        Assert.Multiple(() =>
        {
            Assert.That(session.BatchGraph!.FallbackReason, Is.Null);
            Assert.That(waitsInCapture, Is.Zero, "waits while capturing");
            Assert.That(ringUploadsInCapture, Is.Zero, "uploads through the staging ring while capturing (a replay would read reused slots)");
            Assert.That(allocationsInCapture, Is.Zero, "bytes allocated while capturing");
        });
    }

    [Test]
    public void AStochasticSolverStaysEager()
    {
        var expected = Eager("euler_ancestral");
        GraphsOn();
        using var session = Begin("euler_ancestral");
        Close.Identical(expected, session.Finish(), "euler_ancestral with graphs on vs off");
        Assert.That(session.BatchGraph, Is.Null, "noise keyed by the sample index must not be frozen into a graph");
    }

    [Test]
    public void AStepCallbackKeepsTheLoopEager()
    {
        GraphsOn();
        int calls = 0;
        using var session = Begin("dpmpp_2m", new SamplerOptions { Seed = 11, Callback = _ => calls++ });
        session.Finish();
        Assert.That(session.BatchGraph, Is.Null);
        Assert.That(calls, Is.EqualTo(Samples * Steps), "the callback saw every step as it ran");
    }

    [Test]
    public void ALoopThatReadsTheDeviceFallsBackToEagerWithTheReason()
    {
        // rk45 reads its error norms on the host to choose its steps: a graph cannot hold that. Loose tolerances keep
        // its step count (and the emulator's time) small; the reads are there at any tolerance.
        var rk45 = new DormandPrince45 { Rtol = 0.5, Atol = 0.5 };
        var expected = Eager(rk45);
        GraphsOn();
        using var session = Begin(rk45);
        Close.Identical(expected, session.Finish(), "rk45 after the fallback vs eager");
        Assert.That(session.BatchGraph!.FallbackReason, Does.Contain("waited for the device"));
        Assert.That(session.BatchGraph.Replays, Is.Zero);
    }

    [Test]
    public void ANonFiniteReplayedBatchNamesItsStepAndSample()
    {
        // Samples 0–2 are ordinary noise; sample 3 is finite but overflows once scaled by σ₀, in the third replay.
        var init = TestData.Normal(Samples * _model.SampleLength, 5);
        for (int i = 3 * _model.SampleLength; i < init.Length; i++) init[i] = 3e38f;
        GraphsOn();
        using var session = Begin("dpmpp_2m", init: init);
        var e = Assert.Throws<NumericalInstabilityException>(() => session.Finish());
        Assert.That(e!.Message, Does.Contain($"step 1 of {Steps}").And.Contain("sample 3"));
        Assert.That(session.BatchGraph!.Replays, Is.EqualTo(Samples - 1), "the failing batch was a replay");
    }

    /// <summary>A stand-in capture that runs the work through <paramref name="record"/> when capturing, and plainly at each launch.</summary>
    private sealed class CheckingCapture(Action<Action> record) : Runtime.Plan.IGraphCapture
    {
        public Runtime.Plan.IReplayableGraph Capture(Action work)
        {
            record(work);
            return new Graph(work);
        }

        private sealed class Graph(Action work) : Runtime.Plan.IReplayableGraph
        {
            public void Launch() => work();
            public void Dispose() { }
        }
    }
}
