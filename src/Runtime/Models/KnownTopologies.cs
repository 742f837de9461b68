namespace DiffusionKernels.Runtime.Models;

/// <summary>Published U-Net topologies, for benchmarks with random weights (no checkpoint download needed).</summary>
public static class KnownTopologies
{
    /// <summary>google/ddpm-cifar10-32: 35.7 M parameters, attention at 16×16, one head.</summary>
    public const string DdpmCifar10 = """
        {"_class_name": "UNet2DModel", "act_fn": "silu", "attention_head_dim": null,
         "block_out_channels": [128, 256, 256, 256], "center_input_sample": false,
         "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
         "downsample_padding": 0, "flip_sin_to_cos": false, "freq_shift": 1, "in_channels": 3,
         "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-06, "norm_num_groups": 32,
         "out_channels": 3, "sample_size": 32, "time_embedding_type": "positional",
         "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"]}
        """;

    /// <summary>Names accepted in place of a model folder.</summary>
    public static readonly IReadOnlyDictionary<string, string> ByName = new Dictionary<string, string>
    {
        ["ddpm-cifar10-32"] = DdpmCifar10,
        ["google/ddpm-cifar10-32"] = DdpmCifar10,
    };
}
