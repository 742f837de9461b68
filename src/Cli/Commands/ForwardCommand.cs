using System.CommandLine;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli.Commands;

/// <summary><c>dk forward</c>: one U-Net forward pass from .npy inputs to a .npy output.</summary>
internal static class ForwardCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model(required: true);
        var input = new Option<string>("--input") { Description = "Sample x, [B, C, H, W] float .npy", Required = true };
        var timesteps = new Option<string>("--timesteps") { Description = "Timesteps t, [B] or [1] int64 or float .npy", Required = true };
        var labels = new Option<string?>("--class-labels") { Description = "Class labels, [B] int64 .npy (class-conditional models)" };
        var embeddings = new Option<string?>("--class-embeddings") { Description = "Float class embeddings, [B, T] or [T] .npy (class_embed_type identity)" };
        var output = new Option<string>("--output") { Description = "Where to write the output [B, out_channels, H, W] .npy (not one of the inputs)", Required = true };
        var allowNonFinite = CommonOptions.AllowNonFinite();
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var command = new Command("forward", "Run one U-Net forward pass") { model, input, timesteps, labels, embeddings, output, allowNonFinite, device, precision };
        command.SetAction(r => Run(r.GetValue(model)!, r.GetValue(input)!, r.GetValue(timesteps)!, r.GetValue(labels), r.GetValue(embeddings), r.GetValue(output)!, r.GetValue(device)!,
            r.GetValue(allowNonFinite), r.GetValue(precision)!));
        return command;
    }

    public static int Run(string modelDir, string inputPath, string timestepsPath, string? labelsPath, string? embeddingsPath, string outputPath, string deviceName,
        bool allowNonFinite = false, string precision = "fp32")
    {
        // Every file the model folder holds is an input too: --output must not replace config.json or the weights.
        var modelFiles = Directory.Exists(modelDir) ? Directory.GetFiles(modelDir) : [];
        outputPath = OutputFile.Check(outputPath, "--output", [inputPath, timestepsPath, labelsPath, embeddingsPath, .. modelFiles]);
        var x = Npy.Read(inputPath);
        var t = Npy.Read(timestepsPath);
        var labels = labelsPath is null ? null : Npy.Read(labelsPath);
        var embeddings = embeddingsPath is null ? null : Npy.Read(embeddingsPath);
        if (x.Floats is not null) CommonOptions.RequireFinite($"--input {inputPath}", x.Floats, allowNonFinite);
        CommonOptions.RequireFinite($"--timesteps {timestepsPath}", t.AsFloat32(), allowNonFinite);
        if (embeddings is not null) CommonOptions.RequireFinite($"--class-embeddings {embeddingsPath}", embeddings.AsFloat32(), allowNonFinite);
        using var backend = CommonOptions.CreateBackend(deviceName, precision);
        using var unet = CommonOptions.LoadModel(modelDir, backend);
        var c = unet.Config;
        if (x.Shape.Length != 4 || x.Floats is null)
            throw new ShapeMismatchException($"{inputPath}: the sample must be a float array of shape [B, C, H, W], found {x.DType} {Shape.Format(x.Shape)}");
        int batch = x.Shape[0];
        if (batch < 1) throw new ShapeMismatchException($"{inputPath}: the sample {Shape.Format(x.Shape)} holds no batch elements");
        if (x.Shape[1] != c.InChannels)
            throw new ShapeMismatchException($"{inputPath}: the model takes {c.InChannels} channels (in_channels), the sample {Shape.Format(x.Shape)} has {x.Shape[1]}");
        var times = t.AsFloat32();
        if (t.Shape.Length > 1 || (times.Length != 1 && times.Length != batch))
            throw new ShapeMismatchException($"{timestepsPath}: timesteps must have shape [{batch}] or [1], found {Shape.Format(t.Shape)}");
        long[] classes = [];
        if (labels is not null)
        {
            if (labels.Longs is null || labels.Shape.Length != 1 || (labels.Longs.Length != batch && labels.Longs.Length != 1))
                throw new ShapeMismatchException($"{labelsPath}: class labels must be int64 of shape [{batch}], found {labels.DType} {Shape.Format(labels.Shape)}");
            classes = labels.Longs;
        }
        else if (c.IsClassConditional && c.ClassEmbedType != "identity")
            throw new ArgumentException($"the model in {modelDir} is class-conditional: pass --class-labels labels.npy");
        if (c.ClassEmbedType == "identity" && embeddings is null)
            throw new ArgumentException($"the model in {modelDir} takes float class embeddings (class_embed_type identity): pass --class-embeddings embeddings.npy");

        using var plan = unet.Compile(batch, x.Shape[2], x.Shape[3]);
        using var sample = backend.Upload(x.Floats, new Shape(x.Shape));
        if (embeddings is not null)
        {
            try
            {
                plan.SetClassEmbeddings(embeddings.AsFloat32());
            }
            catch (Exception e) when (e is ArgumentException or ShapeMismatchException)
            {
                throw new ArgumentException($"{embeddingsPath}: {e.Message}", e);
            }
        }
        var y = plan.Forward(sample, times, classes);
        var result = y.ToArray();
        if (!allowNonFinite && result.Any(v => !float.IsFinite(v)))
            throw new NumericalInstabilityException($"the output holds {result.Count(v => !float.IsFinite(v))} NaN/Inf values; nothing was written (--allow-nonfinite writes them)");
        CommonOptions.RequireFinite("the output", result, allow: true);
        Npy.Write(outputPath, result, y.Shape.ToArray());
        Console.WriteLine($"wrote {outputPath} {y.Shape} ({backend.Name})");
        return 0;
    }
}
