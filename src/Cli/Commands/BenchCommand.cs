using System.CommandLine;
using System.Diagnostics;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Cli.Commands;

/// <summary><c>dk bench unet</c>: times the compiled forward pass after warm-up.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model(required: true);
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 1 };
        var iters = new Option<int>("--iters") { Description = "Timed forward passes", DefaultValueFactory = _ => 10 };
        var size = new Option<int?>("--size") { Description = "Height and width (default: the config's sample_size)" };
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var profile = new Option<bool>("--profile") { Description = "Also print where the time goes, by op kind (one synchronized run)" };
        var cudaGraph = CommonOptions.CudaGraph();
        var json = JsonSummary.Option();
        var unet = new Command("unet", "Time the U-Net forward pass") { model, batch, iters, size, device, precision, profile, cudaGraph, json };
        unet.SetAction(r => JsonSummary.Run("bench unet", r.GetValue(json), () => RunUnet(r.GetValue(model)!, r.GetValue(batch), r.GetValue(iters), r.GetValue(size), r.GetValue(device)!, r.GetValue(profile),
            r.GetValue(precision)!, r.GetValue(cudaGraph)!)));
        return new Command("bench", "Benchmarks") { unet };
    }

    public static int RunUnet(string modelDir, int batch, int iters, int? size, string deviceName, bool profile = false, string precision = "fp32", string cudaGraph = "off")
    {
        CommonOptions.AtLeast("--batch", batch, 1);
        CommonOptions.AtLeast("--iters", iters, 1);
        using var backend = CommonOptions.CreateBackend(deviceName, precision);
        CommonOptions.ApplyCudaGraph(backend, cudaGraph);
        using var unet = CommonOptions.LoadModel(modelDir, backend);
        int s = size ?? unet.Config.SampleSize ?? 32;
        using var plan = unet.Compile(batch, s, s);
        backend.RandomNormal(plan.Sample, 0);
        var t = new float[batch];
        for (int i = 0; i < batch; i++) t[i] = unet.Config.TimeEmbeddingType == "fourier" ? 1f + i : 500 + i;
        plan.SetTimesteps(t);
        if (plan.NeedsClassLabels) plan.SetClassLabels([0]);
        for (int i = 0; i < 2; i++) plan.Run();
        backend.Synchronize();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < iters; i++) plan.Run();
        // Host time to queue the forwards (a deep queue may block a launch, so this is an upper bound at large batch).
        double hostUs = sw.Elapsed.TotalMicroseconds / iters;
        backend.Synchronize();
        double ms = sw.Elapsed.TotalMilliseconds / iters;
        Console.WriteLine($"device {backend.Name} ({backend.Device.Description}), batch {batch}, {s}×{s}, {plan.LaunchCount} steps, "
                          + $"{plan.Flops / 1e9:F2} GFLOP/forward, {plan.Flops / ms / 1e6:F1} GFLOP/s, activations {plan.ActivationBytes / (1024.0 * 1024):F1} MiB");
        if (profile)
        {
            var launches = plan.LaunchesPerStep();
            var host = plan.HostQueueTimes(HostTimingRuns);
            PrintLaunches(launches, host);
            JsonSummary.Metric("kernel_launches", launches.Sum(l => l.Launches));
            JsonSummary.Metric("host_us_per_launch", host.Sum(h => h.HostUs) / Math.Max(1, launches.Sum(l => l.Launches)));
            PrintProfile(plan.RunProfiled());
        }
        Console.WriteLine($"unet forward: {ms:F3} ms/forward, {batch * 1000 / ms:F2} images/s");
        string graph = CudaGraphState(backend, plan);
        Console.WriteLine($"host: {hostUs:F1} µs to queue a forward, {hostUs / Math.Max(1, plan.LaunchCount):F2} µs per step; cuda graph: {graph}");
        JsonSummary.Setting("cuda_graph", cudaGraph);
        JsonSummary.Set("cuda_graph_state", graph);
        JsonSummary.Metric("host_us_per_forward", hostUs);
        JsonSummary.Set("device", $"{backend.Name} ({backend.Device.Description})");
        JsonSummary.Set("precision", precision);
        foreach (var (key, value) in new (string, object?)[] { ("model", modelDir), ("batch", batch), ("size", s), ("iters", iters), ("warmup", 2) })
            JsonSummary.Setting(key, value);
        JsonSummary.Timing("forward_seconds", ms / 1000);
        JsonSummary.Metric("ms_per_forward", ms);
        JsonSummary.Metric("images_per_second", batch * 1000 / ms);
        JsonSummary.Metric("gflop_per_forward", plan.Flops / 1e9);
        JsonSummary.Metric("gflop_per_second", plan.Flops / ms / 1e6);
        JsonSummary.Metric("launches", plan.LaunchCount);
        JsonSummary.Metric("activation_mib", plan.ActivationBytes / (1024.0 * 1024));
        return 0;
    }

    /// <summary>What the timed forwards ran as: replayed graphs, eager with the reason, or eager as asked.</summary>
    private static string CudaGraphState(Backend backend, Runtime.Models.UNetPlan plan)
    {
        if (plan.CudaGraphFallback is { } reason) return $"eager ({reason})";
        if (plan.Graph is { Replays: > 0 } g) return $"replayed ({g.Replays} launches of {g.Captures} capture(s))";
        return backend.CudaGraphs == CudaGraphMode.Off ? "off" : "off (not used at this batch or device)";
    }

    /// <summary>Runs whose median host time per step the profile reports.</summary>
    private const int HostTimingRuns = 5;

    /// <summary>
    /// Kernel launches of one forward, in total and per op kind (exact on ILGPU; one per op call on the CPU), with the
    /// host microseconds per launch of each kind: the queueing cost graph replay saves (on the CPU, the compute itself).
    /// </summary>
    private static void PrintLaunches(IReadOnlyList<(string Step, int Launches)> steps, IReadOnlyList<(string Step, double HostUs)> host)
    {
        int total = steps.Sum(s => s.Launches);
        double hostUs = host.Sum(h => h.HostUs);
        Console.WriteLine($"kernel launches per forward: {total}, host {hostUs:F1} µs to queue them ({hostUs / Math.Max(1, total):F2} µs per launch, median of {HostTimingRuns} runs)");
        var usByKind = host.GroupBy(h => StepKind.Of(h.Step)).ToDictionary(g => g.Key, g => g.Sum(h => h.HostUs));
        foreach (var (kind, count) in StepKind.Totals(steps))
        {
            double us = usByKind.GetValueOrDefault(kind);
            string perLaunch = count > 0 ? $"{us / count,8:F2} µs/launch" : $"{us,8:F2} µs (no kernel)";
            Console.WriteLine($"  {kind,-22} {count,4} launches {perLaunch}");
        }
    }

    /// <summary>Time per op kind (the last part of each step name: conv1, norm2, sdpa, …), largest first.</summary>
    private static void PrintProfile(IReadOnlyList<(string Step, double Ms, double Flops)> steps)
    {
        double total = steps.Sum(s => s.Ms);
        Console.WriteLine($"profile (synchronized after every step, {total:F2} ms in all):");
        foreach (var g in steps.GroupBy(s => StepKind.Of(s.Step))
                     .Select(g => (Kind: g.Key, Ms: g.Sum(s => s.Ms), Count: g.Count())).OrderByDescending(g => g.Ms))
            Console.WriteLine($"  {g.Kind,-22} {g.Count,4} steps {g.Ms,9:F3} ms {100 * g.Ms / total,5:F1}%");
    }
}
