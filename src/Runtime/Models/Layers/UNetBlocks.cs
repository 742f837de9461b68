namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// The one place block types are decided (diffusers' <c>get_down_block</c> / <c>get_up_block</c>): which
/// <c>down_block_types</c> / <c>up_block_types</c> names are supported, which carry attention, and which class builds
/// each with which resampler. <see cref="UNetConfig"/> validates against it and <see cref="UNet2DModel"/> builds from it.
/// </summary>
internal static class UNetBlocks
{
    /// <summary>Builds a down block from its weights, config, input and output channels, and whether it downsamples.</summary>
    private delegate IDownBlock DownFactory(ModelWeights w, string prefix, string type, UNetConfig c, int cin, int cout, bool addDownsample);

    /// <summary>Builds an up block from its weights, config, channels, and whether it upsamples.</summary>
    private delegate IUpBlock UpFactory(ModelWeights w, string prefix, string type, UNetConfig c, int prevOut, int cout, int cin, bool addUpsample);

    private sealed record Kind<TFactory>(string Name, bool Attention, TFactory Create);

    // In diffusers' order of appearance; the order is the one error messages list.
    private static readonly Kind<DownFactory>[] DownKinds =
    [
        new("DownBlock2D", false, (w, p, t, c, cin, cout, add) => new DownBlock(w, p, c, cin, cout, attention: false, add ? Downsampler.Conv : Downsampler.None)),
        // AttnDownBlock2D honours downsample_type; the other plain blocks hard-wire theirs.
        new("AttnDownBlock2D", true, (w, p, t, c, cin, cout, add) => new DownBlock(w, p, c, cin, cout, attention: true,
            !add ? Downsampler.None : c.DownsampleType == "resnet" ? Downsampler.Resnet : Downsampler.Conv)),
        new("ResnetDownsampleBlock2D", false, (w, p, t, c, cin, cout, add) => new DownBlock(w, p, c, cin, cout, attention: false, add ? Downsampler.Resnet : Downsampler.None)),
        new("SkipDownBlock2D", false, (w, p, t, c, cin, cout, add) => new SkipDownBlock(w, p, t, c, cin, cout, attention: false, add)),
        new("AttnSkipDownBlock2D", true, (w, p, t, c, cin, cout, add) => new SkipDownBlock(w, p, t, c, cin, cout, attention: true, add)),
    ];

    private static readonly Kind<UpFactory>[] UpKinds =
    [
        new("UpBlock2D", false, (w, p, t, c, prev, cout, cin, add) => new UpBlock(w, p, c, prev, cout, cin, attention: false, add ? Upsampler.Conv : Upsampler.None)),
        // AttnUpBlock2D honours upsample_type; the other plain blocks hard-wire theirs.
        new("AttnUpBlock2D", true, (w, p, t, c, prev, cout, cin, add) => new UpBlock(w, p, c, prev, cout, cin, attention: true,
            !add ? Upsampler.None : c.UpsampleType == "resnet" ? Upsampler.Resnet : Upsampler.Conv)),
        new("ResnetUpsampleBlock2D", false, (w, p, t, c, prev, cout, cin, add) => new UpBlock(w, p, c, prev, cout, cin, attention: false, add ? Upsampler.Resnet : Upsampler.None)),
        new("SkipUpBlock2D", false, (w, p, t, c, prev, cout, cin, add) => new SkipUpBlock(w, p, t, c, prev, cout, cin, attention: false, add)),
        new("AttnSkipUpBlock2D", true, (w, p, t, c, prev, cout, cin, add) => new SkipUpBlock(w, p, t, c, prev, cout, cin, attention: true, add)),
    ];

    /// <summary>The only <c>mid_block_type</c> (besides null, no mid block).</summary>
    public const string MidBlockType = "UNetMidBlock2D";

    /// <summary>The supported <c>down_block_types</c> names (each may also carry diffusers' "UNetRes" prefix).</summary>
    public static IReadOnlyList<string> DownTypes { get; } = [.. DownKinds.Select(k => k.Name)];

    /// <summary>The supported <c>up_block_types</c> names (each may also carry diffusers' "UNetRes" prefix).</summary>
    public static IReadOnlyList<string> UpTypes { get; } = [.. UpKinds.Select(k => k.Name)];

    /// <summary>True when <paramref name="type"/> names a supported down block.</summary>
    public static bool IsDownType(string type) => Find(DownKinds, type) is not null;

    /// <summary>True when <paramref name="type"/> names a supported up block.</summary>
    public static bool IsUpType(string type) => Find(UpKinds, type) is not null;

    /// <summary>True when the down block <paramref name="type"/> runs attention after its resnets.</summary>
    public static bool DownHasAttention(string type) => Find(DownKinds, type)?.Attention ?? false;

    /// <summary>True when the up block <paramref name="type"/> runs attention after its resnets.</summary>
    public static bool UpHasAttention(string type) => Find(UpKinds, type)?.Attention ?? false;

    /// <summary>Builds <c>down_blocks.<paramref name="index"/></c>; the last level does not downsample.</summary>
    public static IDownBlock CreateDown(ModelWeights w, int index, UNetConfig c, int cin, int cout)
    {
        string type = c.DownBlockTypes[index];
        var kind = Find(DownKinds, type) ?? throw new ModelFormatException($"down block type '{type}' is not supported ({string.Join(", ", DownTypes)})");
        return kind.Create(w, $"down_blocks.{index}", kind.Name, c, cin, cout, index < c.DownBlockTypes.Length - 1);
    }

    /// <summary>
    /// Builds <c>up_blocks.<paramref name="index"/></c> (<paramref name="prevOut"/> channels from below, <paramref name="cin"/>
    /// from the matching down level's input); the last level does not upsample.
    /// </summary>
    public static IUpBlock CreateUp(ModelWeights w, int index, UNetConfig c, int prevOut, int cout, int cin)
    {
        string type = c.UpBlockTypes[index];
        var kind = Find(UpKinds, type) ?? throw new ModelFormatException($"up block type '{type}' is not supported ({string.Join(", ", UpTypes)})");
        return kind.Create(w, $"up_blocks.{index}", kind.Name, c, prevOut, cout, cin, index < c.UpBlockTypes.Length - 1);
    }

    /// <summary>The kind <paramref name="type"/> names; diffusers strips a "UNetRes" prefix first.</summary>
    private static Kind<T>? Find<T>(Kind<T>[] kinds, string type)
    {
        string name = type.StartsWith("UNetRes", StringComparison.Ordinal) ? type[7..] : type;
        return Array.Find(kinds, k => k.Name == name);
    }
}
