using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Backends.Cuda;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Runtime.Plan;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Plan;

/// <summary>
/// The CUDA-graph switch and the replay logic around the capture, on machines without CUDA: the switch resolves by
/// device and batch, <c>On</c> is refused where no graph can be captured, and a plan replayed through a stand-in
/// capture (which runs the work when captured and at each launch) warms up eagerly, captures once, replays, rebuilds
/// after a scratch buffer changes, and falls back to eager runs, with the reason, when the captured region waits for
/// the device or uploads host data.
/// </summary>
public class CudaGraphReplayTests
{
    [Test]
    public void TheCpuBackendRefusesOnAndIgnoresAuto()
    {
        using var cpu = new CpuBackend();
        var e = Assert.Throws<ArgumentException>(() => cpu.CudaGraphs = CudaGraphMode.On);
        Assert.That(e!.Message, Does.Contain("cpu is not a CUDA device"));
        Assert.That(cpu.CudaGraphs, Is.EqualTo(CudaGraphMode.Off), "a refused mode is not kept");
        cpu.CudaGraphs = CudaGraphMode.Auto;
        Assert.That(cpu.UsesCudaGraph(1), Is.False, "auto on a CPU device is eager");
        cpu.CudaGraphs = CudaGraphMode.Off;
        Assert.That(cpu.UsesCudaGraph(1), Is.False);
    }

    [Test]
    public void TheIlgpuCpuAcceleratorHasNoCapture()
    {
        var b = TestBackends.IlgpuCpu;
        Assert.That(b.GraphCapture, Is.Null);
        Assert.That(b.GraphCaptureUnavailable, Does.Contain("ilgpu-cpu is not a CUDA device"));
    }

    [Test]
    public void TheDriverApiFailsWithAnErrorNamingTheCallOrTheMissingLibrary()
    {
        // Without CUDA the driver is never loaded until asked for, and then the error says so; with it, capturing the
        // legacy NULL stream is refused by the driver, and the error names the call and the CUresult.
        var e = Assert.Throws<CudaGraphException>(() => CudaGraphApi.BeginCapture(0));
        if (CudaGraphApi.Unavailable is { } reason) Assert.That(e!.Message, Is.EqualTo(reason).And.Contain("libcuda"));
        else Assert.That(e!.Message, Does.StartWith("cuStreamBeginCapture_v2 failed with CUDA_ERROR_"));
    }

    [Test]
    public void AutoReplaysSmallBatchesWhereACaptureExists()
    {
        using var cpu = new CpuBackend { SimulatedGraphCapture = new RunningCapture() };
        cpu.CudaGraphs = CudaGraphMode.Auto;
        Assert.That(cpu.UsesCudaGraph(1), Is.True);
        Assert.That(cpu.UsesCudaGraph(Backend.CudaGraphAutoMaxBatch), Is.True);
        Assert.That(cpu.UsesCudaGraph(Backend.CudaGraphAutoMaxBatch + 1), Is.False);
        cpu.CudaGraphs = CudaGraphMode.On;
        Assert.That(cpu.UsesCudaGraph(Backend.CudaGraphAutoMaxBatch + 1), Is.True, "on replays every batch");
    }

    [Test]
    public void AReplayedForwardWarmsUpCapturesOnceAndGivesTheEagerBits()
    {
        var config = UNetConfig.Parse(TinyTopologies.TwoLevels);
        using var cpu = new CpuBackend();
        using var net = UNet2DModel.CreateRandom(config, cpu, seed: 5);
        using var eager = net.Compile(2, 8, 8);
        using var graphed = net.Compile(2, 8, 8);
        var sample = TestData.Normal(2 * 8 * 8, 9);
        float[] Forward(UNetPlan plan, float t)
        {
            cpu.CopyFromHost(sample, plan.Sample);
            plan.SetTimesteps([t, t + 1]);
            plan.Run();
            return plan.Output.ToArray();
        }
        var expected = new[] { Forward(eager, 10), Forward(eager, 500) };

        var capture = new RunningCapture();
        cpu.SimulatedGraphCapture = capture;
        cpu.CudaGraphs = CudaGraphMode.On;
        Close.Identical(expected[0], Forward(graphed, 10), "run 1 (eager warm-up)");
        Assert.That(graphed.Graph!.Captures, Is.Zero);
        Close.Identical(expected[1], Forward(graphed, 500), "run 2 (captured, then launched)");
        Close.Identical(expected[0], Forward(graphed, 10), "run 3 (replayed with new timesteps)");
        Assert.Multiple(() =>
        {
            Assert.That(capture.Captured, Is.EqualTo(1));
            Assert.That(graphed.Graph.Replays, Is.EqualTo(2));
            Assert.That(graphed.CudaGraphFallback, Is.Null);
        });
        cpu.CudaGraphs = CudaGraphMode.Off;
        Close.Identical(expected[1], Forward(graphed, 500), "off again: eager");
        Assert.That(graphed.Graph.Replays, Is.EqualTo(2));
    }

    [Test]
    public void AFourierForwardUploadsNothingWhileItRuns()
    {
        // The σ division reads 1/σ from a device tensor uploaded with the timesteps, so the forward itself (the region a
        // graph captures) stages no copy: one that did would replay a stale 1/σ.
        var config = UNetConfig.Parse("""
            {"sample_size": 8, "in_channels": 1, "out_channels": 1, "block_out_channels": [4, 8], "layers_per_block": 1,
             "down_block_types": ["DownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "UpBlock2D"],
             "norm_num_groups": 2, "time_embedding_type": "fourier"}
            """);
        var b = TestBackends.IlgpuCpu;
        using var net = UNet2DModel.CreateRandom(config, b, seed: 2);
        using var plan = net.Compile(2, 8, 8);
        b.CopyFromHost(TestData.Normal(2 * 64, 3), plan.Sample);
        plan.SetTimesteps([0.5f, 4f]);
        long uploads = b.StagedUploads, waits = b.HostSynchronizations;
        plan.Run();
        Assert.That(b.StagedUploads - uploads, Is.Zero, "staged uploads during the forward");
        Assert.That(b.HostSynchronizations - waits, Is.Zero, "waits during the forward");

        // The forward still divides each sample by its own σ: the CPU backend's result.
        using var cpuNet = UNet2DModel.CreateRandom(config, TestBackends.Cpu, seed: 2);
        using var cpuPlan = cpuNet.Compile(2, 8, 8);
        using var cpuSample = TestBackends.Cpu.Upload(TestData.Normal(2 * 64, 3), cpuPlan.Sample.Shape);
        var output = cpuPlan.Forward(cpuSample, [0.5f, 4f]).ToArray();
        Close.Assert(output, plan.Output.ToArray(), 1e-4, "ilgpu-cpu vs cpu"); // fp32, different summation orders
    }

    [Test]
    public void ARegionThatUploadsFallsBackToEagerWithTheReason()
    {
        var b = TestBackends.IlgpuCpu;
        using var host = b.Allocate(4);
        var values = new float[] { 1, 2, 3, 4 };
        var (graph, runs) = Graph(b, () => b.CopyFromHost(values, host));
        graph.Run(); // warm-up
        graph.Run(); // the capture sees the upload
        Assert.That(graph.FallbackReason, Does.Contain("1 host upload(s)"));
        graph.Run();
        Assert.That(runs(), Is.EqualTo(4), "warm-up, the rejected capture, and two eager runs");
        Assert.That(graph.Replays, Is.Zero);
    }

    [Test]
    public void ARegionThatWaitsFallsBackToEagerWithTheReason()
    {
        var b = TestBackends.IlgpuCpu;
        var (graph, _) = Graph(b, b.Synchronize);
        graph.Run();
        graph.Run();
        Assert.That(graph.FallbackReason, Does.Contain("waited for the device 1 time(s)"));
    }

    [Test]
    public void ARefusedCaptureFallsBackToEagerWithTheDriversError()
    {
        var b = TestBackends.IlgpuCpu;
        int runs = 0;
        var capture = new RunningCapture { Refuse = new CudaGraphException(CudaGraphApi.Describe("cuStreamBeginCapture_v2", 900), 900) };
        using var graph = new PlanGraph(b, capture, () => runs++);
        graph.Run();
        graph.Run();
        Assert.That(graph.FallbackReason, Does.Contain("cuStreamBeginCapture_v2 failed with").And.Contain("(900)"));
        Assert.That(runs, Is.EqualTo(2), "both runs ran eagerly");
    }

    [Test]
    public void AReplacedScratchBufferRebuildsTheGraph()
    {
        var b = TestBackends.IlgpuCpu;
        var (graph, runs) = Graph(b, () => { });
        graph.Run();
        graph.Run();
        graph.Run();
        Assert.That((graph.Captures, graph.Replays), Is.EqualTo((1, 2)));
        // A per-sample combination longer than the coefficient buffer replaces it (outside the captured region).
        long generation = b.ScratchGeneration;
        for (int batch = 9; b.ScratchGeneration == generation; batch *= 2)
        {
            using var x = b.Allocate(batch, 1);
            b.LinearCombination(x, [x, x, x, x, x, x, x, x], new float[8 * batch]);
        }
        graph.Run(); // eager: the old graph is dropped
        Assert.That((graph.Captures, graph.Replays), Is.EqualTo((1, 2)));
        graph.Run(); // captured again
        Assert.That((graph.Captures, graph.Replays, graph.FallbackReason), Is.EqualTo((2, 3, (string?)null)));
        Assert.That(runs(), Is.EqualTo(1 + 2 + 1 + 1 + 2), "warm-up, capture+launch, replay, eager, capture+launch");
    }

    /// <summary>On a real GPU: the replayed graph gives the eager forward's bits, for every timestep it is run with.</summary>
    [Test]
    [Category("Gpu")]
    public void ACapturedCudaGraphReplaysTheEagerForward()
    {
        var cuda = TestBackends.Cuda; // fails under DK_REQUIRE_CUDA=1 without a device, else ignored
        var config = UNetConfig.Parse(TinyTopologies.TwoLevels);
        using var net = UNet2DModel.CreateRandom(config, cuda, seed: 5);
        using var eager = net.Compile(1, 8, 8);
        using var graphed = net.Compile(1, 8, 8);
        var sample = TestData.Normal(64, 9);
        float[] Forward(UNetPlan plan, float t)
        {
            cuda.CopyFromHost(sample, plan.Sample);
            plan.SetTimesteps([t]);
            plan.Run();
            return plan.Output.ToArray();
        }
        float[] timesteps = [10, 500, 999, 10];
        var expected = timesteps.Select(t => Forward(eager, t)).ToArray();
        cuda.CudaGraphs = CudaGraphMode.On;
        try
        {
            for (int i = 0; i < timesteps.Length; i++) Close.Identical(expected[i], Forward(graphed, timesteps[i]), $"run {i + 1} at t = {timesteps[i]}");
            Assert.That(graphed.CudaGraphFallback, Is.Null);
            Assert.That((graphed.Graph!.Captures, graphed.Graph.Replays), Is.EqualTo((1, timesteps.Length - 1)));
        }
        finally
        {
            cuda.CudaGraphs = CudaGraphMode.Off;
        }
    }

    private static (PlanGraph Graph, Func<int> Runs) Graph(Backend b, Action region)
    {
        int runs = 0;
        var graph = new PlanGraph(b, new RunningCapture(), () =>
        {
            runs++;
            region();
        });
        return (graph, () => runs);
    }
}
