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
        return CliErrors.Run(() => root.Parse(args).Invoke());
    }
}
