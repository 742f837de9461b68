using System.CommandLine;
using DiffusionKernels.Cli.Commands;

namespace DiffusionKernels.Cli;

/// <summary>
/// The <c>dk</c> command. Exit codes (<see cref="CliErrors"/>): 0 success, 1 internal error, 2 bad usage or input
/// (including command-line parse errors), 3 non-finite result, 130 interrupted.
/// </summary>
internal static class Program
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
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(StudyCommand.Create());
        root.Subcommands.Add(SamplersCommand.Create());
        root.Subcommands.Add(ReconstructCommand.Create());
        root.Subcommands.Add(AnomalyCommand.Create());
        root.Subcommands.Add(SegmentCommand.Create());
        root.Subcommands.Add(TranslateCommand.Create());
        root.Subcommands.Add(MedicalEvalCommand.Create());
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) Console.Error.WriteLine($"dk: error: {error.Message}");
            Console.Error.WriteLine($"see '{string.Join(' ', CommandPath(parsed.CommandResult))} --help' for the options");
            return CliErrors.UserError;
        }
        return CliErrors.Run(() => parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
    }

    private static Stack<string> CommandPath(System.CommandLine.Parsing.CommandResult? result)
    {
        var names = new Stack<string>();
        for (var r = result; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Push(r.Command is RootCommand ? "dk" : r.Command.Name);
        return names;
    }
}
