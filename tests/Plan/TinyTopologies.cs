using DiffusionKernels.Runtime.Models;

namespace DiffusionKernels.Tests.Plan;

/// <summary>
/// Tiny U-Net configs for plan-structure tests, and the kernel launches one forward of such a config must make,
/// counted from the config itself (block types, channels, layers per block), not read off a plan.
/// </summary>
internal static class TinyTopologies
{
    /// <summary>2 levels (8, 16), one layer per block, attention at the second level and in the mid block.</summary>
    public const string TwoLevels = """
        {"sample_size": 8, "in_channels": 1, "out_channels": 1, "block_out_channels": [8, 16], "layers_per_block": 1,
         "down_block_types": ["DownBlock2D", "AttnDownBlock2D"], "up_block_types": ["AttnUpBlock2D", "UpBlock2D"],
         "norm_num_groups": 4, "attention_head_dim": 8}
        """;

    /// <summary>3 levels with odd widths (3, 9, 15), two layers per block, attention only at the deepest level.</summary>
    public const string ThreeLevelsOdd = """
        {"sample_size": 8, "in_channels": 3, "out_channels": 3, "block_out_channels": [3, 9, 15], "layers_per_block": 2,
         "down_block_types": ["DownBlock2D", "DownBlock2D", "AttnDownBlock2D"],
         "up_block_types": ["AttnUpBlock2D", "UpBlock2D", "UpBlock2D"], "norm_num_groups": 3, "attention_head_dim": 3}
        """;

    /// <summary>Resnet blocks of a forward (down, mid, up) of a config built from DownBlock2D/UpBlock2D and their Attn twins.</summary>
    public static int Resnets(UNetConfig c) => 2 * c.BlockOutChannels.Length * c.LayersPerBlock + c.BlockOutChannels.Length + 2;

    /// <summary>Attention blocks of a forward (down, mid, up) of the same configs: one per layer of an Attn block, one in the mid block.</summary>
    public static int Attentions(UNetConfig c) =>
        c.DownBlockTypes.Count(t => t.StartsWith("Attn", StringComparison.Ordinal)) * c.LayersPerBlock + 1
        + c.UpBlockTypes.Count(t => t.StartsWith("Attn", StringComparison.Ordinal)) * (c.LayersPerBlock + 1);

    /// <summary>
    /// Kernel launches of one forward on a backend that launches one kernel per op (ILGPU) for a positional-embedding
    /// config of DownBlock2D/AttnDownBlock2D/UpBlock2D/AttnUpBlock2D with a mid block with attention. A resnet is
    /// norm1, conv1, its time projection, the temb add, norm2 and conv2 (residual fused), plus conv_shortcut when its
    /// widths differ; with <see cref="UNetFusions.TimeProjections"/> the projections are one launch in all, with
    /// <see cref="UNetFusions.TimeBiasInConv"/> conv1 adds the projection (no temb add), with
    /// <see cref="UNetFusions.UpsampleInConv"/> an upsampler is its conv alone, with <see cref="UNetFusions.StackedQkv"/>
    /// an attention block's q, k and v are one launch, with <see cref="UNetFusions.OutProjectionToNchw"/> its to_out,
    /// transpose and residual are one, with <see cref="UNetFusions.NormToTokens"/> its norm writes the tokens. The final
    /// copy into the output
    /// is a device copy, not a kernel.
    /// </summary>
    public static int ExpectedLaunches(UNetConfig c, UNetFusions fusions)
    {
        // group_norm, to tokens, q, k, v (one stacked GEMM with StackedQkv), sdpa, to_out, back to NCHW + residual
        // (one with OutProjectionToNchw); the norm writes the tokens with NormToTokens
        int attention = 8 - (fusions.StackedQkv ? 2 : 0) - (fusions.OutProjectionToNchw ? 1 : 0) - (fusions.NormToTokens ? 1 : 0);
        int resnetsSeen = 0;
        int Resnet(int cin, int cout)
        {
            resnetsSeen++;
            int projection = fusions.TimeProjections ? 0 : 1, add = fusions.TimeBiasInConv ? 0 : 1;
            return 4 + projection + add + (cin != cout ? 1 : 0); // + norm1, conv1, norm2, conv2
        }
        int levels = c.BlockOutChannels.Length;
        int launches = 4; // sinusoidal time_proj, linear_1 (+SiLU), linear_2, act(temb)
        launches += 1; // conv_in
        var skips = new Stack<int>();
        skips.Push(c.BlockOutChannels[0]);
        int ch = c.BlockOutChannels[0];
        for (int i = 0; i < levels; i++)
        {
            int cout = c.BlockOutChannels[i];
            for (int j = 0; j < c.LayersPerBlock; j++)
            {
                launches += Resnet(ch, cout);
                ch = cout;
                if (c.DownBlockTypes[i].StartsWith("Attn", StringComparison.Ordinal)) launches += attention;
                skips.Push(ch);
            }
            if (i < levels - 1) { launches += 1; skips.Push(ch); } // downsampler conv
        }
        launches += Resnet(ch, ch) + attention + Resnet(ch, ch);
        for (int i = 0; i < levels; i++)
        {
            int cout = c.BlockOutChannels[levels - 1 - i];
            for (int j = 0; j <= c.LayersPerBlock; j++)
            {
                int skip = skips.Pop();
                // The concat, unless norm1 and conv_shortcut read it in place (a resnet without a shortcut reads x again).
                launches += fusions.ConcatInReaders && ch + skip != cout ? 0 : 1;
                launches += Resnet(ch + skip, cout);
                ch = cout;
                if (c.UpBlockTypes[i].StartsWith("Attn", StringComparison.Ordinal)) launches += attention;
            }
            if (i < levels - 1) launches += fusions.UpsampleInConv ? 1 : 2; // nearest ×2 (unless read by the conv), conv
        }
        launches += 2; // conv_norm_out (+SiLU), conv_out
        if (resnetsSeen != Resnets(c)) throw new InvalidOperationException($"counted {resnetsSeen} resnets, expected {Resnets(c)}");
        return launches + (fusions.TimeProjections ? 1 : 0);
    }
}
