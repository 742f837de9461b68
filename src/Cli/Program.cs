using System.CommandLine;
using DiffusionKernels.Cli.Commands;

namespace DiffusionKernels.Cli;

/// <summary>The <c>dk</c> command: sample, forward, bench, info.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("dk — diffusion model inference on NVIDIA GPUs (ILGPU) and CPUs");
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(ForwardCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(PhantomsCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(SampleCommand.Create());
        root.Subcommands.Add(StudyCommand.Create());
        root.Subcommands.Add(SamplersCommand.Create());
        root.Subcommands.Add(ReconstructCommand.Create());
        root.Subcommands.Add(AnomalyCommand.Create());
        root.Subcommands.Add(MedicalEvalCommand.Create());
        var parsed = root.Parse(args);
        return CliErrors.Run(() => parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
    }
}
