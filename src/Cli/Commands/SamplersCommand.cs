using System.CommandLine;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli.Commands;

/// <summary><c>dk samplers</c>: every sampler with its order, stochasticity and network evaluations per step.</summary>
public static class SamplersCommand
{
    public static Command Create()
    {
        var command = new Command("samplers", "List the samplers");
        command.SetAction(_ =>
        {
            Console.WriteLine($"{"name",-18} {"order",5} {"stochastic",10} {"NFE/step",8}  eta");
            foreach (var s in SamplerRegistry.Solvers)
                Console.WriteLine($"{s.Name,-18} {s.Order,5} {(s.Stochastic ? "yes" : "no"),10} {s.EvaluationsPerStep,8}  {(s.TakesEta ? "yes" : "-")}");
            Console.WriteLine();
            Console.WriteLine($"{SampleCommand.Diffusers}: the class the model's scheduler_config.json names, as diffusers v{DiffusersScheduler.DiffusersVersion} runs it "
                              + "(the default when it names one):");
            Console.WriteLine("  " + string.Join(", ", DiffusersScheduler.Classes));
            return 0;
        });
        return command;
    }
}
