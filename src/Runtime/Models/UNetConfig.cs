using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Runtime.Models.Layers;

namespace DiffusionKernels.Runtime.Models;

/// <summary>
/// A diffusers <c>UNet2DModel</c> <c>config.json</c>, with diffusers' defaults for missing keys. Keys starting
/// with '_' are metadata; any other key or value the engine does not support, and any number outside its sane range
/// (see the <c>Max…</c> constants), is a <see cref="ModelFormatException"/> naming the file and the key.
/// </summary>
/// <remarks>Immutable once read; safe to share between threads.</remarks>
public sealed class UNetConfig
{
    /// <c>sample_size</c>: the training resolution (height = width), if the config states it.
    public int? SampleSize { get; init; }
    /// <c>in_channels</c>: channels of the input sample.
    public int InChannels { get; init; } = 3;
    /// <c>out_channels</c>: channels of the prediction.
    public int OutChannels { get; init; } = 3;
    /// <c>center_input_sample</c>: the input is mapped x → 2x − 1 before the first convolution.
    public bool CenterInputSample { get; init; }
    /// <summary>"positional", "fourier" or "learned".</summary>
    public string TimeEmbeddingType { get; init; } = "positional";
    /// <c>time_embedding_dim</c>; null means 4 × the first block's channels.
    public int? TimeEmbeddingDim { get; init; }
    /// <c>freq_shift</c> of the sinusoidal time features.
    public float FreqShift { get; init; }
    /// <c>flip_sin_to_cos</c>: cosines first in the time features.
    public bool FlipSinToCos { get; init; } = true;
    /// <c>down_block_types</c>, one per level (diffusers' class names).
    public string[] DownBlockTypes { get; init; } = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"];
    /// <c>mid_block_type</c>; null for no middle block.
    public string? MidBlockType { get; init; } = "UNetMidBlock2D";
    /// <c>up_block_types</c>, one per level.
    public string[] UpBlockTypes { get; init; } = ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"];
    /// <c>block_out_channels</c>: channels per level.
    public int[] BlockOutChannels { get; init; } = [224, 448, 672, 896];
    /// <c>layers_per_block</c>: resnets per down block (up blocks have one more).
    public int LayersPerBlock { get; init; } = 2;
    /// <c>mid_block_scale_factor</c>: the middle block's resnet outputs are divided by it.
    public float MidBlockScaleFactor { get; init; } = 1f;
    /// <c>downsample_padding</c> of the strided downsampling convolutions.
    public int DownsamplePadding { get; init; } = 1;
    /// <summary>"conv" or "resnet" (honoured by the attention down blocks only, as in diffusers).</summary>
    public string DownsampleType { get; init; } = "conv";
    /// <c>upsample_type</c>: "conv" or "resnet".
    public string UpsampleType { get; init; } = "conv";
    /// <c>dropout</c>: read and checked, unused at inference.
    public float Dropout { get; init; }
    /// <c>act_fn</c>: "silu", "swish", "mish", "gelu" or "relu".
    public string ActFn { get; init; } = "silu";
    /// <summary>Channels per attention head; null means one head over all channels.</summary>
    public int? AttentionHeadDim { get; init; } = 8;
    /// <c>norm_num_groups</c> of the group norms; null only for block types that do not normalize.
    public int? NormNumGroups { get; init; } = 32;
    /// <c>attn_norm_num_groups</c>; null means <see cref="NormNumGroups"/>.
    public int? AttnNormNumGroups { get; init; }
    /// <c>norm_eps</c>: ε of every group norm.
    public float NormEps { get; init; } = 1e-5f;
    /// <summary>"default" or "scale_shift".</summary>
    public string ResnetTimeScaleShift { get; init; } = "default";
    /// <c>add_attention</c>: the middle block has an attention layer.
    public bool AddAttention { get; init; } = true;
    /// <summary>null, "timestep" or "identity".</summary>
    public string? ClassEmbedType { get; init; }
    /// <c>num_class_embeds</c>: size of the class embedding table, if the model is class-conditional.
    public int? NumClassEmbeds { get; init; }
    /// <c>num_train_timesteps</c>, if the config states it.
    public int? NumTrainTimesteps { get; init; }

    /// <summary>Time embedding width T.</summary>
    public int TimeEmbedDim => TimeEmbeddingDim ?? 4 * BlockOutChannels[0];

    /// <summary>True when the model needs class labels.</summary>
    public bool IsClassConditional => ClassEmbedType is not null || NumClassEmbeds is not null;

    /// <summary>Spatial sizes must be multiples of this.</summary>
    public int SpatialMultiple => 1 << (BlockOutChannels.Length - 1);

    /// <summary>The nonlinearity <c>act_fn</c> names.</summary>
    public Activation Activation => ActFn switch
    {
        "silu" or "swish" => Activation.SiLU,
        "mish" => Activation.Mish,
        "gelu" => Activation.GeluExact,
        "relu" => Activation.Relu,
        _ => throw new ModelFormatException($"act_fn '{ActFn}' is not supported (silu, swish, mish, gelu, relu)"),
    };

    /// <summary>Largest sample_size accepted (activations grow with its square; real models use 32 … 1024).</summary>
    public const int MaxSampleSize = 16384;
    /// <summary>Largest channel count (in_channels, out_channels, block_out_channels entries, head dims, groups) accepted.</summary>
    public const int MaxChannels = 16384;
    /// <summary>Largest number of levels (block_out_channels entries): sizes must be multiples of 2^(levels−1).</summary>
    public const int MaxLevels = 12;
    /// <summary>Largest layers_per_block accepted.</summary>
    public const int MaxLayersPerBlock = 64;
    /// <summary>Largest num_class_embeds accepted (the class table is num_class_embeds × time_embed_dim floats).</summary>
    public const int MaxClassEmbeds = 1_000_000;
    /// <summary>Largest num_train_timesteps accepted (the learned time table holds one row per timestep).</summary>
    public const int MaxTrainTimesteps = 100_000;

    /// <summary>Reads and validates <paramref name="path"/>.</summary>
    public static UNetConfig Load(string path) => Read(ConfigReader.Load(path, "model config"));

    /// <summary>Parses config JSON; <paramref name="source"/> names the file in errors.</summary>
    public static UNetConfig Parse(string json, string source = "config.json") => Read(ConfigReader.Parse(json, source));

    private static UNetConfig Read(ConfigReader p)
    {
        string source = p.Source;
        if (p.String("_class_name", "UNet2DModel") is { } cls && cls != "UNet2DModel")
            throw new ModelFormatException($"{source}: _class_name '{cls}' is not supported (only UNet2DModel)");
        var defaults = new UNetConfig();
        var c = new UNetConfig
        {
            SampleSize = p.NullableInt("sample_size", defaults.SampleSize, 1, MaxSampleSize),
            InChannels = p.Int("in_channels", defaults.InChannels, 1, MaxChannels),
            OutChannels = p.Int("out_channels", defaults.OutChannels, 1, MaxChannels),
            CenterInputSample = p.Bool("center_input_sample", defaults.CenterInputSample),
            TimeEmbeddingType = p.String("time_embedding_type", defaults.TimeEmbeddingType)!,
            TimeEmbeddingDim = p.NullableInt("time_embedding_dim", defaults.TimeEmbeddingDim, 1, MaxChannels * 4),
            FreqShift = p.Float("freq_shift", defaults.FreqShift, -MaxChannels, MaxChannels),
            FlipSinToCos = p.Bool("flip_sin_to_cos", defaults.FlipSinToCos),
            DownBlockTypes = p.Strings("down_block_types", defaults.DownBlockTypes),
            MidBlockType = p.String("mid_block_type", defaults.MidBlockType),
            UpBlockTypes = p.Strings("up_block_types", defaults.UpBlockTypes),
            BlockOutChannels = p.Ints("block_out_channels", defaults.BlockOutChannels, 1, MaxChannels),
            LayersPerBlock = p.Int("layers_per_block", defaults.LayersPerBlock, 1, MaxLayersPerBlock),
            // Divides every resnet and attention output: zero or a huge value turns the network's output into Inf or 0.
            MidBlockScaleFactor = p.Float("mid_block_scale_factor", defaults.MidBlockScaleFactor, 1e-3f, 1e3f),
            DownsamplePadding = p.Int("downsample_padding", defaults.DownsamplePadding, 0, 1),
            DownsampleType = p.String("downsample_type", defaults.DownsampleType)!,
            UpsampleType = p.String("upsample_type", defaults.UpsampleType)!,
            Dropout = p.Float("dropout", defaults.Dropout, 0, 1),
            ActFn = p.String("act_fn", defaults.ActFn)!,
            AttentionHeadDim = p.NullableInt("attention_head_dim", defaults.AttentionHeadDim, 1, MaxChannels),
            NormNumGroups = p.NullableInt("norm_num_groups", defaults.NormNumGroups, 1, MaxChannels),
            AttnNormNumGroups = p.NullableInt("attn_norm_num_groups", defaults.AttnNormNumGroups, 1, MaxChannels),
            // A GroupNorm ε ≤ 0 divides by zero on a constant group (NaN outputs); diffusers' models use 1e-6 … 1e-5.
            NormEps = p.Float("norm_eps", defaults.NormEps, 1e-30f, 1),
            ResnetTimeScaleShift = p.String("resnet_time_scale_shift", defaults.ResnetTimeScaleShift)!,
            AddAttention = p.Bool("add_attention", defaults.AddAttention),
            ClassEmbedType = p.String("class_embed_type", defaults.ClassEmbedType),
            NumClassEmbeds = p.NullableInt("num_class_embeds", defaults.NumClassEmbeds, 1, MaxClassEmbeds),
            NumTrainTimesteps = p.NullableInt("num_train_timesteps", defaults.NumTrainTimesteps, 1, MaxTrainTimesteps),
        };
        p.RejectUnknownKeys();
        c.Validate(source);
        return c;
    }

    private void Validate(string source)
    {
        void Fail(string msg) => throw new ModelFormatException($"{source}: {msg}");
        if (BlockOutChannels.Length == 0) Fail("block_out_channels is empty");
        if (BlockOutChannels.Length > MaxLevels) Fail($"block_out_channels has {BlockOutChannels.Length} levels, more than the {MaxLevels} supported");
        if (DownBlockTypes.Length != BlockOutChannels.Length || UpBlockTypes.Length != BlockOutChannels.Length)
            Fail($"down_block_types ({DownBlockTypes.Length}), up_block_types ({UpBlockTypes.Length}) and block_out_channels ({BlockOutChannels.Length}) must have the same length");
        foreach (var t in DownBlockTypes)
            if (!UNetBlocks.IsDownType(t)) Fail($"down block type '{t}' is not supported ({string.Join(", ", UNetBlocks.DownTypes)})");
        foreach (var t in UpBlockTypes)
            if (!UNetBlocks.IsUpType(t)) Fail($"up block type '{t}' is not supported ({string.Join(", ", UNetBlocks.UpTypes)})");
        if (MidBlockType is not null && MidBlockType != UNetBlocks.MidBlockType) Fail($"mid_block_type '{MidBlockType}' is not supported ({UNetBlocks.MidBlockType} or null)");
        if (TimeEmbeddingType is not ("positional" or "fourier" or "learned")) Fail($"time_embedding_type '{TimeEmbeddingType}' is not supported (positional, fourier, learned)");
        if (TimeEmbeddingType == "learned" && NumTrainTimesteps is null) Fail("time_embedding_type 'learned' needs num_train_timesteps");
        if (ResnetTimeScaleShift is not ("default" or "scale_shift")) Fail($"resnet_time_scale_shift '{ResnetTimeScaleShift}' is not supported (default, scale_shift)");
        if (DownsampleType is not ("conv" or "resnet")) Fail($"downsample_type '{DownsampleType}' is not supported (conv, resnet)");
        if (UpsampleType is not ("conv" or "resnet")) Fail($"upsample_type '{UpsampleType}' is not supported (conv, resnet)");
        if (ClassEmbedType is not (null or "timestep" or "identity")) Fail($"class_embed_type '{ClassEmbedType}' is not supported (null, timestep, identity)");
        if (ClassEmbedType is null && NumClassEmbeds is < 1) Fail($"num_class_embeds must be ≥ 1, found {NumClassEmbeds}");
        if (LayersPerBlock < 1) Fail($"layers_per_block must be ≥ 1, found {LayersPerBlock}");
        if (DownsamplePadding is < 0 or > 1) Fail($"downsample_padding must be 0 or 1, found {DownsamplePadding}");
        if (ActFn is not ("silu" or "swish" or "mish" or "gelu" or "relu")) Fail($"act_fn '{ActFn}' is not supported (silu, swish, mish, gelu, relu)");
        foreach (var ch in BlockOutChannels)
        {
            if (ch < 1) Fail($"block_out_channels has a non-positive entry {ch}");
            if (NormNumGroups is { } g && ch % g != 0) Fail($"block_out_channels entry {ch} is not divisible by norm_num_groups {g}");
            // Without norm_num_groups, diffusers derives min(channels / 4, 32) groups (mid block, conv_norm_out, skip blocks).
            if (NormNumGroups is null && (ch < 4 || ch % Math.Min(ch / 4, 32) != 0))
                Fail($"norm_num_groups is null, and block_out_channels entry {ch} cannot be split into min({ch} / 4, 32) groups");
        }
        int last = BlockOutChannels[^1];
        if (AttnNormNumGroups is { } ag && MidBlockType is not null && AddAttention && last % ag != 0)
            Fail($"the mid block's {last} channels are not divisible by attn_norm_num_groups {ag}");
        foreach (var (channels, where) in AttentionChannels())
            if (AttentionHeadDim is { } d && d > channels)
                Fail($"attention_head_dim {d} is larger than the {channels} channels of {where} (no whole head fits)");
        if (TimeEmbeddingType == "positional" || ClassEmbedType == "timestep")
        {
            // The sinusoidal frequencies divide by (half − freq_shift).
            int half = BlockOutChannels[0] / 2;
            if (half < 1) Fail($"block_out_channels[0] = {BlockOutChannels[0]} leaves no sinusoidal time features (at least 2 are needed)");
            if (half - FreqShift == 0) Fail($"freq_shift {FreqShift} equals half the time features ({half}); the frequencies would divide by zero");
        }
    }

    /// <summary>The channel counts attention runs at, with where, for the head-size check.</summary>
    private IEnumerable<(int Channels, string Where)> AttentionChannels()
    {
        for (int i = 0; i < DownBlockTypes.Length; i++)
            if (UNetBlocks.DownHasAttention(DownBlockTypes[i])) yield return (BlockOutChannels[i], $"down block {i}");
        var reversed = BlockOutChannels.Reverse().ToArray();
        for (int i = 0; i < UpBlockTypes.Length && i < reversed.Length; i++)
            if (UNetBlocks.UpHasAttention(UpBlockTypes[i])) yield return (reversed[i], $"up block {i}");
        if (MidBlockType is not null && AddAttention) yield return (BlockOutChannels[^1], "the mid block");
    }
}
