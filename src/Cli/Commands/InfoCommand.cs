using System.CommandLine;
using DiffusionKernels.Runtime;

namespace DiffusionKernels.Cli.Commands;

/// <summary><c>dk info</c>: the devices found and the one <c>auto</c> picks.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "List the devices found and which one 'auto' picks");
        command.SetAction(_ =>
        {
            Console.WriteLine("devices:");
            foreach (var d in Devices.List()) Console.WriteLine($"  {d}");
            Console.WriteLine($"auto -> {Devices.ResolveAuto()}");
            return 0;
        });
        return command;
    }
}
