using System.CommandLine;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;

namespace DiffusionKernels.Cli;

/// <summary>Options shared by several commands, and how they turn into engine objects.</summary>
public static class CommonOptions
{
    public static Option<string> Device() => new("--device")
    {
        Description = $"Device: {Devices.Names}",
        DefaultValueFactory = _ => "auto",
    };

    public static Option<string> Model(bool required) => new("--model")
    {
        Description = "A diffusers UNet2DModel folder (config.json + diffusion_pytorch_model.safetensors), or a known topology with random weights: "
                      + string.Join(", ", KnownTopologies.ByName.Keys),
        Required = required,
    };

    /// <summary>Loads a model folder, or builds a known topology with random weights.</summary>
    public static UNet2DModel LoadModel(string model, Backend backend)
    {
        if (KnownTopologies.ByName.TryGetValue(model, out var json))
            return UNet2DModel.CreateRandom(UNetConfig.Parse(json, model), backend);
        return UNet2DModel.Load(model, backend);
    }

    /// <summary>Fails with a message naming <paramref name="option"/> when <paramref name="value"/> is below <paramref name="min"/>.</summary>
    public static int AtLeast(string option, int value, int min) =>
        value >= min ? value : throw new ArgumentException($"{option} must be ≥ {min}, found {value}");
}
