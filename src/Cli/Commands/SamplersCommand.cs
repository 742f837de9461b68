using System.CommandLine;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk samplers</c>: every sampler with its order, stochasticity, network evaluations per step and the settings it
/// takes with their defaults (each settable by the flag of the same name in <c>dk sample</c> and <c>dk study</c>).
/// </summary>
internal static class SamplersCommand
{
    public static Command Create()
    {
        var command = new Command("samplers", "List the samplers and their settings");
        command.SetAction(_ =>
        {
            Console.WriteLine($"{"name",-18} {"order",5} {"stochastic",10} {"NFE/step",8}  settings (defaults)");
            foreach (var s in SamplerRegistry.Solvers)
            {
                var settings = s.Settings.Count == 0 ? "-" : string.Join(" ", s.Settings.Select(x => $"{x.Name}={x.FormatValue()}"));
                Console.WriteLine($"{s.Name,-18} {s.Order,5} {(s.Stochastic ? "yes" : "no"),10} {s.EvaluationsPerStep,8}  {settings}");
            }
            Console.WriteLine();
            Console.WriteLine("settings (dk sample/study flag: --name with - for _):");
            foreach (var name in SamplerRegistry.SettingNames)
            {
                var setting = SamplerRegistry.Setting(name)!;
                Console.WriteLine($"  {setting.Label}: {setting.Description}");
            }
            Console.WriteLine();
            Console.WriteLine($"{SampleCommand.Diffusers}: the class the model's scheduler_config.json names, as diffusers v{DiffusersScheduler.DiffusersVersion} runs it "
                              + "(the default when it names one):");
            Console.WriteLine("  " + string.Join(", ", DiffusersScheduler.Classes));
            return 0;
        });
        return command;
    }
}
