using System.Diagnostics;
using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Bench;

/// <summary>
/// GFLOP/s of the CPU convolutions on the conv shapes of the google/ddpm-cifar10-32 U-Net, old against new, in one
/// process: <c>dotnet run -c Release --project bench -- conv-cpu [--batches 1,16] [--rounds 5]</c>. "im2col" is the
/// unfold-then-SGEMM kernel (<see cref="Conv2d"/>), "implicit" the implicit GEMM with weights packed per call, and
/// "implicit packed" the same with weights packed once, "winograd" F(2×2, 3×3) with weights transformed once (what a
/// compiled plan runs for 3×3 stride-1 convs of ≥ 16 channels in and out with ≥ 2 panels of tiles; its GFLOP/s count the direct convolution's flops,
/// and the last column is its largest difference from the im2col result, relative to the largest output). Kernels alternate within each
/// round, and each cell is the median over the rounds, so load drifting over the run falls on all three alike.
/// </summary>
public static class ConvCpuTable
{
    private sealed record ConvShape(string Role, int Cin, int Cout, int Size, int Kernel, int Stride, int Padding, int ExtraPad)
    {
        public int OutSize => (Size + 2 * Padding + ExtraPad - Kernel) / Stride + 1;
        public override string ToString() =>
            $"conv{Kernel}x{Kernel}{(Stride > 1 ? $" s{Stride}" : "")} {Cin}→{Cout} {Size}×{Size}{(OutSize != Size ? $"→{OutSize}" : "")}";
    }

    // Every distinct conv shape of the DDPM CIFAR-10 U-Net (block_out_channels 128, 256, 256, 256 at 32, 16, 8, 4).
    private static readonly ConvShape[] Shapes =
    [
        new("conv_in", 3, 128, 32, 3, 1, 1, 0),
        new("resnet", 128, 128, 32, 3, 1, 1, 0),
        new("downsample", 128, 128, 32, 3, 2, 0, 1),
        new("resnet", 128, 256, 16, 3, 1, 1, 0),
        new("resnet", 256, 256, 16, 3, 1, 1, 0),
        new("shortcut", 128, 256, 16, 1, 1, 0, 0),
        new("resnet", 256, 256, 8, 3, 1, 1, 0),
        new("resnet", 256, 256, 4, 3, 1, 1, 0),
        new("up resnet", 512, 256, 4, 3, 1, 1, 0),
        new("up shortcut", 512, 256, 8, 1, 1, 0, 0),
        new("up resnet", 384, 128, 32, 3, 1, 1, 0),
        new("conv_out", 128, 3, 32, 3, 1, 1, 0),
    ];

    public static int Run(IReadOnlyList<int> batches, int rounds)
    {
        Console.WriteLine($"# {Environment.ProcessorCount} threads, micro-kernel {Sgemm.KernelName}; GFLOP/s, median of {rounds} alternating rounds");
        Console.WriteLine("| role | shape | batch | im2col | implicit | implicit packed | winograd | plan's kernel / im2col | winograd error |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int batch in batches)
            foreach (var s in Shapes)
            {
                var rng = new Random(1);
                var x = Enumerable.Range(0, batch * s.Cin * s.Size * s.Size).Select(_ => rng.NextSingle() - 0.5f).ToArray();
                var w = Enumerable.Range(0, s.Cout * s.Cin * s.Kernel * s.Kernel).Select(_ => rng.NextSingle() - 0.5f).ToArray();
                var bias = new float[s.Cout];
                var y = new float[batch * s.Cout * s.OutSize * s.OutSize];
                var packed = new PackedConvWeights(w, s.Cout, s.Cin * s.Kernel * s.Kernel);
                int n = batch, k = s.Kernel, o = s.OutSize;
                bool winogradCase = k == 3 && s.Stride == 1 && s.Cin >= 16;
                var winograd = winogradCase ? new WinogradWeights(w, s.Cout, s.Cin) : null;
                var y2 = new float[y.Length];
                string error = "";
                if (winograd is not null)
                {
                    Conv2d.Forward(x, w, bias, default, y, n, s.Cin, s.Size, s.Size, s.Cout, k, k, o, o, s.Stride, s.Padding, 1f);
                    WinogradConv2d.Forward(x, winograd, bias, default, y2, n, s.Cin, s.Size, s.Size, s.Cout, o, o, s.Padding, 1f);
                    double maxDiff = 0, maxRef = 0;
                    for (int i = 0; i < y.Length; i++)
                    {
                        maxDiff = Math.Max(maxDiff, Math.Abs(y[i] - y2[i]));
                        maxRef = Math.Max(maxRef, Math.Abs(y[i]));
                    }
                    error = $"{maxDiff / maxRef:E1}";
                }
                var kernels = new List<Action>
                {
                    () => Conv2d.Forward(x, w, bias, default, y, n, s.Cin, s.Size, s.Size, s.Cout, k, k, o, o, s.Stride, s.Padding, 1f),
                    () => ImplicitGemmConv2d.Forward(x, w, bias, default, y, n, s.Cin, s.Size, s.Size, s.Cout, k, k, o, o, s.Stride, s.Padding, 1f),
                    () => ImplicitGemmConv2d.Forward(x, packed, bias, default, y, n, s.Cin, s.Size, s.Size, s.Cout, k, k, o, o, s.Stride, s.Padding, 1f),
                };
                if (winograd is not null)
                    kernels.Add(() => WinogradConv2d.Forward(x, winograd, bias, default, y, n, s.Cin, s.Size, s.Size, s.Cout, o, o, s.Padding, 1f));
                double flops = 2.0 * batch * s.Cout * o * o * s.Cin * k * k;
                // Enough calls per timing for ~20 ms, so the short batch-1 convs are not lost in timer noise.
                var sw = Stopwatch.StartNew();
                kernels[0]();
                kernels[2]();
                int iters = Math.Clamp((int)(20.0 / Math.Max(1e-3, sw.Elapsed.TotalMilliseconds / 2)), 1, 2000);
                var times = kernels.Select(_ => new List<double>()).ToArray();
                int count = kernels.Count;
                for (int r = 0; r < rounds; r++)
                    for (int i = 0; i < count; i++)
                    {
                        int kk = (i + r) % count;
                        sw.Restart();
                        for (int it = 0; it < iters; it++) kernels[kk]();
                        times[kk].Add(sw.Elapsed.TotalMilliseconds / iters);
                    }
                var gflops = times.Select(t => flops / (Median(t) * 1e6)).ToArray();
                string wino = winograd is null ? "–" : $"{gflops[3]:F0}";
                Console.WriteLine($"| {s.Role} | {s} | {batch} | {gflops[0]:F0} | {gflops[1]:F0} | {gflops[2]:F0} | {wino} | {(winograd is not null && WinogradConv2d.FillsPanels(n, o, o) ? gflops[3] : gflops[2]) / gflops[0]:F2} | {error} |");
            }
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
