namespace DiffusionKernels.Runtime.Models;

/// <summary>
/// Which launch-saving fusions a compiled forward uses (all by default). Each one is kept switchable so tests and
/// benchmarks can compare it against the unfused steps it replaces.
/// </summary>
/// <param name="TimeProjections">Every resnet's time_emb_proj as one stacked GEMM.</param>
/// <param name="TimeBiasInConv">Each resnet's per-sample time-embedding bias added in conv1's epilogue, not by its own add.</param>
/// <param name="UpsampleInConv">An upsampler's nearest ×2 read inside its conv's gather, not materialised by its own step.</param>
/// <param name="StackedQkv">An attention block's to_q, to_k and to_v as one GEMM over stacked weights.</param>
/// <param name="OutProjectionToNchw">An attention block's to_out GEMM writing the feature map with the residual in its epilogue.</param>
/// <param name="NormToTokens">An attention block's GroupNorm writing the token sequence, not the feature map and a transpose.</param>
/// <param name="ConcatInReaders">An up block's cat(hidden, skip) read in place by the resnet's norm1 and conv_shortcut, not materialised by its own step.</param>
internal readonly record struct UNetFusions(bool TimeProjections = true, bool TimeBiasInConv = true, bool UpsampleInConv = true,
    bool StackedQkv = true, bool OutProjectionToNchw = true, bool NormToTokens = true, bool ConcatInReaders = true)
{
    /// <summary>Every fusion on (the default plan). Not <c>new()</c>: a struct's parameterless constructor ignores the defaults.</summary>
    public static UNetFusions All => new(true, true, true, true, true, true, true);

    /// <summary>Every fusion off: one step per diffusers op, as the model reads.</summary>
    public static UNetFusions None => new(false, false, false, false, false, false, false);
}
