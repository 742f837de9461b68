using System.CommandLine;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;

namespace DiffusionKernels.Cli;

/// <summary>Options shared by several commands, and how they turn into engine objects.</summary>
internal static class CommonOptions
{
    public static Option<string> Device() => new("--device")
    {
        Description = $"Device: {Devices.Names}",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>--precision: the precision tier of GEMMs and convolutions (fp32 exact; tf32, fp16, bf16 opt-in).</summary>
    public static Option<string> Precision() => new("--precision")
    {
        Description = $"Precision of GEMMs and convolutions: {Precisions.Names}. fp32 is exact; tf32, fp16 and bf16 round their inputs "
                      + "(10-bit mantissa; 10-bit with range ±65504; 7-bit) on tensor cores with fp32 accumulation (CUDA compute "
                      + "capability 8.0+, or emulated on ilgpu-cpu; the cpu device refuses them)",
        DefaultValueFactory = _ => "fp32",
    };

    /// <summary>Creates the backend of --device in the --precision tier (an unknown name is an error naming it).</summary>
    public static Backend CreateBackend(string device, string precision)
    {
        Precision tier;
        try
        {
            tier = Precisions.Parse(precision);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--precision: {e.Message}", e);
        }
        return Devices.Create(device, tier);
    }

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

    /// <summary>Fails with a message naming <paramref name="option"/> unless <paramref name="value"/> is in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static int InRange(string option, int value, int min, int max) =>
        value >= min && value <= max ? value : throw new ArgumentException($"{option} must be in [{min}, {max}], found {value}");

    /// <summary>--cuda-graph on|off|auto: whether U-Net forwards are replayed as CUDA graphs (<see cref="Backend.CudaGraphs"/>).</summary>
    public static Option<string> CudaGraph()
    {
        var option = new Option<string>("--cuda-graph")
        {
            Description = $"Replay each U-Net forward (and, for a deterministic sampler, each whole batch) as a CUDA graph: on (CUDA devices only), off, or auto (on for CUDA devices at batch ≤ {Backend.CudaGraphAutoMaxBatch})",
            DefaultValueFactory = _ => "off",
        };
        option.AcceptOnlyFromAmong("on", "off", "auto");
        return option;
    }

    /// <summary>Sets <paramref name="backend"/>'s CUDA-graph mode from a --cuda-graph value; an error names the option.</summary>
    public static void ApplyCudaGraph(Backend backend, string value)
    {
        var mode = value switch
        {
            "on" => CudaGraphMode.On,
            "auto" => CudaGraphMode.Auto,
            "off" => CudaGraphMode.Off,
            _ => throw new ArgumentException($"--cuda-graph must be on, off or auto, found '{value}'"),
        };
        try
        {
            backend.CudaGraphs = mode;
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--cuda-graph {value}: {e.Message}; use --cuda-graph off or auto", e);
        }
    }

    /// <summary>--allow-nonfinite: let NaN and Inf through inputs and results instead of stopping with an error.</summary>
    public static Option<bool> AllowNonFinite() => new("--allow-nonfinite")
    {
        Description = "Accept NaN/Inf in inputs and write non-finite results instead of failing (exit code 3) on them",
    };

    /// <summary>
    /// The paths a model argument reads, which no output may overwrite or delete: the model folder, or the mixture spec
    /// of <c>gmm:FILE</c> (a known topology reads nothing).
    /// </summary>
    public static string[] ModelPaths(string model)
    {
        if (model.StartsWith("gmm:", StringComparison.Ordinal)) return [model[4..]];
        return KnownTopologies.ByName.ContainsKey(model) && !Directory.Exists(model) ? [] : [model];
    }

    /// <summary>
    /// Fails, naming <paramref name="what"/>, when <paramref name="values"/> hold NaN or Inf, unless
    /// <paramref name="allow"/> (then the count goes to stderr as a warning).
    /// </summary>
    public static void RequireFinite(string what, ReadOnlySpan<float> values, bool allow)
    {
        long count = 0;
        int first = -1;
        for (int i = 0; i < values.Length; i++)
        {
            if (float.IsFinite(values[i])) continue;
            if (first < 0) first = i;
            count++;
        }
        if (count == 0) return;
        var message = $"{what} holds {count} non-finite value{(count > 1 ? "s" : "")} (NaN or ±Inf), the first at element {first} ({values[first]})";
        if (!allow) throw new ArgumentException($"{message}; pass --allow-nonfinite to use it anyway");
        Console.Error.WriteLine($"dk: warning: {message}");
    }
}
