using System.Diagnostics;
using System.Globalization;
using DiffusionKernels.Kernels.Ptx;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Bench;

/// <summary>
/// <c>dotnet run -c Release --project bench -- ptx --output DIR [--arch 9.0] [--driver 13.0] [--filter NAME] [--opt O1]</c>: writes
/// every kernel's PTX (<c>Type.Method.ptx</c>) as ILGPU compiles it for that architecture under that driver, with no
/// GPU, plus <c>kernels.tsv</c> (kernel, grouping, file, ISA, compile ms). <c>tools/gpu/ptxcheck.sh</c> assembles them.
/// <c>--opt</c> compiles at another ILGPU optimization level than the runtime's, for comparisons.
/// </summary>
public static class PtxDump
{
    public static int Run(IReadOnlyList<string> args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        string output = Arg("--output", "");
        if (output.Length == 0)
        {
            Console.Error.WriteLine("ptx: --output DIR is required");
            return 2;
        }
        var arch = ParseVersion(Arg("--arch", "9.0"), "--arch");
        var driver = ParseVersion(Arg("--driver", "13.0"), "--driver");
        string filter = Arg("--filter", "");
        var level = Enum.Parse<ILGPU.OptimizationLevel>(Arg("--opt", Kernels.KernelCompilation.Level.ToString()), ignoreCase: true);
        var architecture = new CudaArchitecture(arch.Major, arch.Minor);
        var isa = OfflinePtxCompiler.RuntimeInstructionSet(architecture, driver.Major, driver.Minor);
        Directory.CreateDirectory(output);
        Console.WriteLine($"ILGPU PTX for sm_{arch.Major}{arch.Minor} under a CUDA {driver.Major}.{driver.Minor} driver: ISA {isa}, {level}");
        using var compiler = new OfflinePtxCompiler(architecture, isa, level);
        var lines = new List<string> { "kernel\tgrouping\tfile\tisa\tcompile_ms" };
        int failed = 0;
        foreach (var kernel in KernelCatalog.All.Where(k => k.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)))
        {
            var sw = Stopwatch.StartNew();
            try
            {
                string ptx = compiler.Compile(kernel);
                string file = kernel.Name + ".ptx";
                File.WriteAllText(Path.Combine(output, file), ptx);
                lines.Add(string.Join('\t', kernel.Name, kernel.ExplicitlyGrouped ? "explicit" : "auto", file, isa, sw.Elapsed.TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture)));
                Console.WriteLine($"  {kernel.Name,-40} {sw.Elapsed.TotalMilliseconds,7:F0} ms");
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine($"  {kernel.Name,-40} FAILED: {e.GetType().Name}: {e.Message}");
            }
        }
        File.WriteAllLines(Path.Combine(output, "kernels.tsv"), lines);
        Console.WriteLine($"{lines.Count - 1} kernels written to {output}{(failed > 0 ? $", {failed} failed" : "")}");
        return failed > 0 ? 1 : 0;
    }

    private static (int Major, int Minor) ParseVersion(string s, string option)
    {
        var parts = s.Split('.');
        if (parts.Length == 2 && int.TryParse(parts[0], out int major) && int.TryParse(parts[1], out int minor)) return (major, minor);
        throw new ArgumentException($"ptx: {option} takes MAJOR.MINOR (e.g. 9.0), found '{s}'");
    }
}
