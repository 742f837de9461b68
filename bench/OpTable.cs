using System.Diagnostics;
using DiffusionKernels.Runtime;

namespace DiffusionKernels.Bench;

/// <summary>
/// A quick table of every op case on the given devices: median ms, GFLOP/s and GB/s, and the ratio
/// between devices, all measured in one run. <c>dotnet run -c Release --project bench -- ops [filter] [--device d,…]</c>.
/// </summary>
public static class OpTable
{
    public static void Run(string? filter, IReadOnlyList<string> devices, double secondsPerCase = 1.0)
    {
        var backends = devices.Select(Devices.Create).ToList();
        Console.WriteLine($"| op | {string.Join(" | ", devices.Select(d => $"{d} ms | {d} GFLOP/s | {d} GB/s"))} |{(devices.Count > 1 ? $" {devices[^1]}/{devices[0]} speed-up |" : "")}");
        Console.WriteLine($"|---|{string.Concat(Enumerable.Repeat("---:|---:|---:|", devices.Count))}{(devices.Count > 1 ? "---:|" : "")}");
        foreach (var proto in OpCase.All())
        {
            if (filter is not null && !proto.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)) continue;
            var cells = new List<string>();
            var times = new List<double>();
            foreach (var backend in backends)
            {
                using var c = OpCase.All().Single(x => x.Name == proto.Name);
                c.Setup(backend);
                double ms = Median(c, backend, secondsPerCase);
                times.Add(ms);
                cells.Add($"{ms:F3} | {(c.Flops > 0 ? (c.Flops / ms / 1e6).ToString("F1") : "-")} | {c.Bytes / ms / 1e6:F1}");
            }
            var ratio = times.Count > 1 ? $" {times[0] / times[^1]:F1}× |" : "";
            Console.WriteLine($"| {proto.Name} | {string.Join(" | ", cells)} |{ratio}");
        }
        foreach (var b in backends) b.Dispose();
    }

    private static double Median(OpCase c, Backend backend, double seconds)
    {
        c.Run();
        backend.Synchronize(); // warm-up: JIT and kernel compilation
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < seconds || samples.Count < 3)
        {
            var sw = Stopwatch.StartNew();
            c.Run();
            backend.Synchronize();
            samples.Add(sw.Elapsed.TotalMilliseconds);
            if (samples.Count >= 1000) break;
        }
        samples.Sort();
        return samples[samples.Count / 2];
    }
}
