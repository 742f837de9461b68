using System.Text.Json.Nodes;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Runtime.Models;

namespace DiffusionKernels.Tests.Support;

/// <summary>
/// A diffusers model folder small enough to load in a millisecond: a 2-level UNet2DModel (8 and 16 channels, attention
/// at the second level) on 1×8×8 images with seeded random weights, and a DDPM scheduler config.
/// </summary>
public static class TinyModel
{
    /// <summary>The config.json this folder holds.</summary>
    public static JsonObject Config() => new()
    {
        ["_class_name"] = "UNet2DModel",
        ["_diffusers_version"] = "0.24.0",
        ["sample_size"] = 8,
        ["in_channels"] = 1,
        ["out_channels"] = 1,
        ["layers_per_block"] = 1,
        ["block_out_channels"] = new JsonArray(8, 16),
        ["down_block_types"] = new JsonArray("DownBlock2D", "AttnDownBlock2D"),
        ["up_block_types"] = new JsonArray("AttnUpBlock2D", "UpBlock2D"),
        ["attention_head_dim"] = 8,
        ["norm_num_groups"] = 4,
        ["norm_eps"] = 1e-5,
        ["freq_shift"] = 0,
        ["flip_sin_to_cos"] = true,
        ["act_fn"] = "silu",
        ["time_embedding_type"] = "positional",
    };

    /// <summary>The scheduler_config.json this folder holds (diffusers' DPM-Solver keys included, -Infinity and all).</summary>
    public const string SchedulerConfig = """
        {"_class_name": "DPMSolverMultistepScheduler", "num_train_timesteps": 1000, "beta_schedule": "linear",
         "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": "epsilon", "timestep_spacing": "leading",
         "steps_offset": 1, "clip_sample": false, "lambda_min_clipped": -Infinity, "variance_type": null}
        """;

    /// <summary>
    /// The smallest U-Net the sampling loops can run (one level of 4 channels, no middle block, 4×4 images: ~30 launches
    /// per forward), for tests that run whole loops on ILGPU's CPU accelerator, which runs each launch slowly.
    /// </summary>
    public static string WriteSmallest(string dir) => Write(dir, configure: c =>
    {
        c["sample_size"] = 4;
        c["block_out_channels"] = new JsonArray(4);
        c["down_block_types"] = new JsonArray("DownBlock2D");
        c["up_block_types"] = new JsonArray("UpBlock2D");
        c["mid_block_type"] = null;
        c["norm_num_groups"] = 2;
    });

    /// <summary>Writes the folder into <paramref name="dir"/> (created if needed) and returns it; <paramref name="configure"/> edits the config first.</summary>
    public static string Write(string dir, int seed = 1, Action<JsonObject>? configure = null)
    {
        Directory.CreateDirectory(dir);
        var configObject = Config();
        configure?.Invoke(configObject);
        var configJson = configObject.ToJsonString();
        File.WriteAllText(Path.Combine(dir, "config.json"), configJson);
        File.WriteAllText(Path.Combine(dir, "scheduler_config.json"), SchedulerConfig);
        var config = UNetConfig.Parse(configJson);
        var writer = new SafetensorsWriter();
        int k = 0;
        foreach (var (name, shape) in UNet2DModel.WeightShapes(config))
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            bool normScale = shape.Length == 1 && name.Contains("norm") && name.EndsWith(".weight");
            var values = normScale ? Enumerable.Repeat(1f, (int)n).ToArray() : TestData.Normal(n, seed * 1000 + k, shape.Length > 1 ? 1f / MathF.Sqrt(n / shape[0]) : 0.02f);
            writer.Add(name, values, shape);
            k++;
        }
        writer.Save(Path.Combine(dir, ModelFiles.WeightsFile));
        return dir;
    }
}
