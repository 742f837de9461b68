using System.Text.Json;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using Microsoft.ML.OnnxRuntime;

namespace DiffusionKernels.Bench;

/// <summary>
/// Where each engine spends a forward: <c>dotnet run -c Release --project bench -- profile-cpu DIR [--batch 1]
/// [--threads 2] [--runs 5]</c> on the folder <c>tools/bench/torch_unet_cpu.py</c> writes. Ours comes from the plan's
/// synchronized per-step run, ONNX Runtime's from its own profiler (per-node kernel times); each is the median over
/// <c>--runs</c> runs after two warm-up runs. Both are printed by op kind, then convolution by convolution matched by
/// module name (ONNX node <c>/down_blocks.0/resnets.0/conv1/Conv</c> is our step <c>down_blocks.0.resnets.0.conv1</c>),
/// with the GFLOP/s of each from the direct convolution's flop count.
/// </summary>
public static class CpuProfileComparison
{
    private const int WarmUp = 2;

    public static int Run(string directory, int batch, int threads, int runs)
    {
        string onnxPath = Path.Combine(directory, "model.onnx");
        if (!File.Exists(onnxPath)) throw new FileNotFoundException($"profile-cpu: no model.onnx in {directory}", onnxPath);
        using var backend = new CpuBackend();
        using var model = UNet2DModel.Load(directory, backend);
        int size = model.Config.SampleSize ?? 32, channels = model.Config.InChannels;
        var rng = new Random(batch);
        var sample = Enumerable.Range(0, batch * channels * size * size).Select(_ => rng.NextSingle() * 2 - 1).ToArray();
        var timesteps = Enumerable.Repeat(500f, batch).ToArray();

        using var plan = model.Compile(batch, size, size);
        backend.CopyFromHost(sample, plan.Sample);
        plan.SetTimesteps(timesteps);
        for (int i = 0; i < WarmUp; i++) plan.Run();
        backend.Synchronize();
        var oursRuns = Enumerable.Range(0, runs).Select(_ => plan.RunProfiled()).ToList();
        var ours = oursRuns[0].Select((s, i) => (s.Step, Ms: Median(oursRuns.Select(r => r[i].Ms)), s.Flops)).ToList();

        var ort = ProfileOnnxRuntime(onnxPath, sample, timesteps, [batch, channels, size, size], threads, runs);

        Console.WriteLine($"# batch {batch}, {size}×{size}; ours: {backend.Device.Name} ({Environment.ProcessorCount} threads); ONNX Runtime " +
                          $"{OrtEnv.Instance().GetVersionString()} ({threads} intra-op threads, all graph optimizations); medians of {runs} runs");
        Console.WriteLine($"# ours {ours.Sum(s => s.Ms):F2} ms in {ours.Count} steps (synchronized after each); " +
                          $"ONNX Runtime {ort.Sum(n => n.Ms):F2} ms in {ort.Count} nodes (kernel time)");
        PrintKinds("ours, by step kind", ours.Select(s => (Kind: OurKind(s.Step), s.Ms)));
        PrintKinds("ONNX Runtime, by op", ort.Select(n => (Kind: n.Op, n.Ms)));
        PrintConvolutions(ours, ort);
        return 0;
    }

    /// <summary>Per-node median kernel milliseconds from ONNX Runtime's profiler, in graph order.</summary>
    private static List<(string Node, string Op, double Ms)> ProfileOnnxRuntime(string onnxPath, float[] sample, float[] timesteps,
        int[] shape, int threads, int runs)
    {
        string prefix = Path.Combine(Path.GetTempPath(), $"dk-ort-profile-{Environment.ProcessId}");
        using var options = OrtUnet.Options(threads, prefix);
        using var session = new InferenceSession(onnxPath, options);
        var inputs = OrtUnet.Inputs(sample, timesteps, shape[1], shape[2]);
        for (int i = 0; i < WarmUp + runs; i++) session.Run(inputs).Dispose();
        string file = session.EndProfiling();
        try
        {
            var perNode = new Dictionary<string, (string Op, List<double> Us)>();
            var order = new List<string>();
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var e in json.RootElement.EnumerateArray())
            {
                if (e.GetProperty("cat").GetString() != "Node") continue;
                string name = e.GetProperty("name").GetString()!;
                if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
                string node = name[..^"_kernel_time".Length];
                string op = e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out var o) ? o.GetString()! : "?";
                if (!perNode.TryGetValue(node, out var entry)) { entry = (op, []); perNode[node] = entry; order.Add(node); }
                entry.Us.Add(e.GetProperty("dur").GetDouble());
            }
            // Drop the warm-up runs: every node runs once per run, in order.
            return order.Select(n => (n, perNode[n].Op, Median(perNode[n].Us.Skip(Math.Max(0, perNode[n].Us.Count - runs))) / 1000)).ToList();
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static void PrintKinds(string title, IEnumerable<(string Kind, double Ms)> items)
    {
        var groups = items.GroupBy(i => i.Kind).Select(g => (Kind: g.Key, Ms: g.Sum(i => i.Ms), Count: g.Count()))
            .OrderByDescending(g => g.Ms).ToList();
        double total = groups.Sum(g => g.Ms);
        Console.WriteLine($"\n{title} ({total:F2} ms):");
        Console.WriteLine("| kind | count | ms | share |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var g in groups.Where(g => g.Ms >= 0.005 * total))
            Console.WriteLine($"| {g.Kind} | {g.Count} | {g.Ms:F2} | {100 * g.Ms / total:F1} % |");
    }

    /// <summary>Each of our convolution steps beside the ONNX nodes of the same module (a fused Conv keeps its name).</summary>
    private static void PrintConvolutions(List<(string Step, double Ms, double Flops)> ours, List<(string Node, string Op, double Ms)> ort)
    {
        var ortByModule = ort.Where(n => n.Op.Contains("Conv", StringComparison.Ordinal))
            .GroupBy(n => ModuleOf(n.Node)).ToDictionary(g => g.Key, g => g.Sum(n => n.Ms));
        Console.WriteLine("\nconvolutions (GFLOP/s from the direct convolution's flops):");
        Console.WriteLine("| step | GFLOP | ours ms | ours GFLOP/s | ORT ms | ORT GFLOP/s | ours / ORT |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        double oursSum = 0, ortSum = 0;
        foreach (var (step, ms, flops) in ours.Where(s => OurKind(s.Step).StartsWith("conv", StringComparison.Ordinal)))
        {
            bool matched = ortByModule.TryGetValue(step, out double ortMs);
            oursSum += ms;
            ortSum += ortMs;
            string theirs = matched ? $"{ortMs:F3} | {flops / ortMs / 1e6:F1} | {ms / ortMs:F2}" : "– | – | –";
            Console.WriteLine($"| {step} | {flops / 1e9:F3} | {ms:F3} | {flops / ms / 1e6:F1} | {theirs} |");
        }
        Console.WriteLine($"| all convolutions | | {oursSum:F2} | | {ortSum:F2} | | {oursSum / ortSum:F2} |");
    }

    /// <summary><c>/down_blocks.0/resnets.0/conv1/Conv</c> (or an optimizer's suffixed copy of it) → <c>down_blocks.0.resnets.0.conv1</c>.</summary>
    private static string ModuleOf(string node)
    {
        string path = node.TrimStart('/');
        int last = path.LastIndexOf('/');
        return (last < 0 ? path : path[..last]).Replace('/', '.');
    }

    /// <summary>The last part of a step name without its digits: <c>conv1</c> → <c>conv</c>, <c>conv_shortcut</c> stays.</summary>
    private static string OurKind(string step) => step[(step.LastIndexOf('.') + 1)..].TrimEnd('0', '1', '2', '3', '4', '5', '6', '7', '8', '9');

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
