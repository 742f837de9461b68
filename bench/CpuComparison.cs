using System.Diagnostics;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using Microsoft.ML.OnnxRuntime;

namespace DiffusionKernels.Bench;

/// <summary>
/// DiffusionKernels (cpu backend) against ONNX Runtime on the same exported U-Net, in one process:
/// <c>dotnet run -c Release --project bench -- compare-cpu DIR [--batches 1,16] [--threads 2] [--rounds 5] [--iters 3]</c>,
/// where DIR holds config.json, diffusion_pytorch_model.safetensors and model.onnx with the same weights
/// (tools/bench/torch_unet_cpu.py writes all three). Each round times both engines back to back, alternating which
/// goes first, so machine load drifting over the run falls on both; the table gives each round's ratio, then the
/// median and the spread (min–max) of the ratio ours / ONNX Runtime over the rounds.
/// </summary>
/// <remarks>
/// Our thread count is the process's (<c>DOTNET_PROCESSOR_COUNT</c>; the script sets it to the same number as ONNX
/// Runtime's intra-op threads).
/// </remarks>
public static class CpuComparison
{
    public static int Run(string directory, IReadOnlyList<int> batches, int threads, int rounds, int iters)
    {
        string onnxPath = Path.Combine(directory, "model.onnx");
        if (!File.Exists(onnxPath)) throw new FileNotFoundException($"compare-cpu: no model.onnx in {directory}", onnxPath);
        using var backend = new CpuBackend();
        using var model = UNet2DModel.Load(directory, backend);
        using var options = OrtUnet.Options(threads);
        using var session = new InferenceSession(onnxPath, options);
        int size = model.Config.SampleSize ?? 32, channels = model.Config.InChannels;
        Console.WriteLine($"# {model.ParameterCount:N0} parameters, {channels}×{size}×{size}; ours: {backend.Device.Name} " +
            $"({Environment.ProcessorCount} threads); ONNX Runtime {OrtEnv.Instance().GetVersionString()} ({threads} intra-op threads, all graph optimizations)");
        Console.WriteLine("| batch | round | first | ours ms | ORT ms | ours / ORT |");
        Console.WriteLine("|---:|---:|---|---:|---:|---:|");
        var summary = new List<string>();
        foreach (int batch in batches)
        {
            var rng = new Random(batch);
            var sample = Enumerable.Range(0, batch * channels * size * size).Select(_ => rng.NextSingle() * 2 - 1).ToArray();
            var timesteps = Enumerable.Repeat(500f, batch).ToArray();

            using var plan = model.Compile(batch, size, size);
            backend.CopyFromHost(sample, plan.Sample);
            plan.SetTimesteps(timesteps);
            Action ours = plan.Run;

            var inputs = OrtUnet.Inputs(sample, timesteps, channels, size);
            Action ort = () => session.Run(inputs).Dispose();

            // Both engines on the same input: their outputs must agree before their times mean anything.
            ours();
            var mine = new float[plan.Output.Length];
            backend.CopyToHost(plan.Output, mine);
            float[] theirs;
            using (var results = session.Run(inputs)) theirs = results[0].AsEnumerable<float>().ToArray();
            double maxDiff = 0, maxRef = 0;
            for (int i = 0; i < mine.Length; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(mine[i] - theirs[i]));
                maxRef = Math.Max(maxRef, Math.Abs(theirs[i]));
            }
            Console.WriteLine($"# batch {batch}: max |ours − ORT| = {maxDiff:G3} (max |ORT| = {maxRef:G3})");
            ours();
            ort();

            var ratios = new List<double>();
            for (int round = 0; round < rounds; round++)
            {
                bool oursFirst = round % 2 == 0;
                double a = 0, b = 0;
                if (oursFirst) { a = Time(ours, iters); b = Time(ort, iters); }
                else { b = Time(ort, iters); a = Time(ours, iters); }
                ratios.Add(a / b);
                Console.WriteLine($"| {batch} | {round + 1} | {(oursFirst ? "ours" : "ORT")} | {a:F1} | {b:F1} | {a / b:F3} |");
            }
            ratios.Sort();
            summary.Add($"batch {batch}: ours / ONNX Runtime median {Median(ratios):F3} (min {ratios[0]:F3}, max {ratios[^1]:F3}) over {rounds} alternating rounds of {iters} forwards");
        }
        foreach (var line in summary) Console.WriteLine(line);
        return 0;
    }

    /// <summary>Mean milliseconds of one call over <paramref name="iters"/> calls.</summary>
    private static double Time(Action run, int iters)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < iters; i++) run();
        return sw.Elapsed.TotalMilliseconds / iters;
    }

    private static double Median(List<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
