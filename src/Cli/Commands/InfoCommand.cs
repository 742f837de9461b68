using System.CommandLine;
using DiffusionKernels.Runtime;

namespace DiffusionKernels.Cli.Commands;

/// <summary><c>dk info</c>: the devices found and which one <c>auto</c> picks; with <c>--model</c>, the model's size and cost.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model(required: false);
        var json = JsonSummary.Option();
        var command = new Command("info", "List the devices found and which one 'auto' picks; with --model, parameters, FLOPs and activation memory") { model, json };
        command.SetAction(r => JsonSummary.Run("info", r.GetValue(json), () =>
        {
            Console.WriteLine("devices:");
            var devices = Devices.List();
            foreach (var d in devices) Console.WriteLine($"  {d}");
            var auto = Devices.ResolveAuto();
            Console.WriteLine($"auto -> {auto}");
            JsonSummary.Set("devices", devices.Select(d => d.ToString()));
            JsonSummary.Set("device", auto.ToString());
            if (r.GetValue(model) is { } m) DescribeModel(m);
            return 0;
        }));
        return command;
    }

    private static void DescribeModel(string modelDir)
    {
        using var backend = new CpuBackend();
        using var unet = CommonOptions.LoadModel(modelDir, backend);
        var c = unet.Config;
        int size = c.SampleSize ?? 32;
        size = (size + c.SpatialMultiple - 1) / c.SpatialMultiple * c.SpatialMultiple;
        using var plan = unet.Compile(1, size, size);
        Console.WriteLine($"model: {modelDir}");
        Console.WriteLine($"  blocks: {string.Join(", ", c.DownBlockTypes)} | {string.Join(", ", c.UpBlockTypes)}; channels {string.Join(",", c.BlockOutChannels)}");
        Console.WriteLine($"  parameters: {unet.ParameterCount:N0} ({unet.ParameterCount / 1e6:F2} M)");
        Console.WriteLine($"  FLOPs per forward at {size}×{size}, batch 1: {plan.Flops / 1e9:F3} GFLOP (convolutions, linears, attention; 2 per multiply-add)");
        Console.WriteLine($"  peak activation memory per batch element: {plan.ActivationBytes / (1024.0 * 1024):F2} MiB");
        Console.WriteLine($"  kernel launches per forward: {plan.LaunchCount}");
        JsonSummary.Set("model", new System.Text.Json.Nodes.JsonObject
        {
            ["path"] = modelDir,
            ["down_blocks"] = JsonSummary.Node(c.DownBlockTypes),
            ["up_blocks"] = JsonSummary.Node(c.UpBlockTypes),
            ["channels"] = JsonSummary.Node(c.BlockOutChannels),
            ["parameters"] = unet.ParameterCount,
            ["size"] = size,
            ["gflop_per_forward"] = plan.Flops / 1e9,
            ["activation_mib_per_sample"] = plan.ActivationBytes / (1024.0 * 1024),
            ["launches"] = plan.LaunchCount,
        });
    }
}
