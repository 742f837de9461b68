using BenchmarkDotNet.Running;

namespace DiffusionKernels.Bench;

/// <summary>
/// <c>dotnet run -c Release --project bench -- ops [filter] [--device cpu,cuda]</c> prints the quick GFLOP/s table;
/// <c>-- kernel gemm|conv|attention|groupnorm [--device D]</c> checks every kept version of a kernel family against a
/// naive reference and times them side by side (see <see cref="KernelCheck"/>);
/// <c>-- ptx --output DIR</c> writes every kernel's PTX for sm_90 (see <see cref="PtxDump"/>);
/// <c>-- onnx model.onnx</c> times ONNX Runtime on an exported U-Net; <c>-- compare-cpu DIR</c> times ours against ONNX Runtime
/// on the same weights in alternating rounds (see <see cref="CpuComparison"/>); <c>-- profile-cpu DIR</c> sets the two engines'
/// per-op profiles side by side (see <see cref="CpuProfileComparison"/>); <c>-- conv-cpu</c> times the old and new CPU
/// convolutions on the U-Net's shapes (see <see cref="ConvCpuTable"/>); any other arguments go to BenchmarkDotNet (<c>-- --filter '*OpBenchmarks*'</c>).
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "ops")
        {
            var rest = args.Skip(1).ToList();
            int d = rest.IndexOf("--device");
            var devices = d >= 0 ? rest[d + 1].Split(',') : BenchDevices.Available().ToArray();
            if (d >= 0) rest.RemoveRange(d, 2);
            OpTable.Run(rest.FirstOrDefault(), devices);
            return;
        }
        if (args.Length > 0 && args[0] == "kernel")
        {
            Environment.Exit(KernelCheck.Run(args.Skip(1).ToList()));
            return;
        }
        if (args.Length > 0 && args[0] == "ptx")
        {
            Environment.Exit(PtxDump.Run(args.Skip(1).ToList()));
            return;
        }
        if (args.Length > 1 && args[0] == "onnx")
        {
            string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
            OnnxUnetRunner.Run(args[1], Arg("--batches", "1,16").Split(',').Select(int.Parse).ToList(), int.Parse(Arg("--threads", "2")), int.Parse(Arg("--iters", "10")));
            return;
        }
        if (args.Length > 1 && args[0] == "compare-cpu")
        {
            string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
            Environment.Exit(CpuComparison.Run(args[1], Arg("--batches", "1,16").Split(',').Select(int.Parse).ToList(),
                int.Parse(Arg("--threads", "2")), int.Parse(Arg("--rounds", "5")), int.Parse(Arg("--iters", "3"))));
            return;
        }
        if (args.Length > 1 && args[0] == "profile-cpu")
        {
            string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
            Environment.Exit(CpuProfileComparison.Run(args[1], int.Parse(Arg("--batch", "1")), int.Parse(Arg("--threads", "2")), int.Parse(Arg("--runs", "5"))));
            return;
        }
        if (args.Length > 0 && args[0] == "conv-cpu")
        {
            string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
            Environment.Exit(ConvCpuTable.Run(Arg("--batches", "1,16").Split(',').Select(int.Parse).ToList(), int.Parse(Arg("--rounds", "5"))));
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
