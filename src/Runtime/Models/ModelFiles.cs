namespace DiffusionKernels.Runtime.Models;

/// <summary>Finds the weight file of a diffusers model folder.</summary>
internal static class ModelFiles
{
    public const string WeightsFile = "diffusion_pytorch_model.safetensors";

    /// <summary>Opens the folder's safetensors weights (the fp16 variant if that is the only one).</summary>
    public static IWeightSource OpenWeights(string directory)
    {
        foreach (var name in new[] { WeightsFile, "diffusion_pytorch_model.fp16.safetensors" })
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path)) return new SafetensorsWeightSource(path);
        }
        if (File.Exists(Path.Combine(directory, "diffusion_pytorch_model.bin")))
            throw new ModelFormatException($"{directory}: only diffusion_pytorch_model.bin (PyTorch pickle) found; convert it to safetensors (diffusers: save_pretrained(..., safe_serialization=True))");
        throw new FileNotFoundException($"{directory}: no {WeightsFile} found", Path.Combine(directory, WeightsFile));
    }
}
