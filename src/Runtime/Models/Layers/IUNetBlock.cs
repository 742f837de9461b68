using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// A down block (diffusers' <c>down_blocks[i]</c>): takes h at its level, pushes every output the up path reads on
/// <see cref="BlockPass.Residuals"/>, returns h for the next level.
/// </summary>
internal interface IDownBlock
{
    /// <summary>Records the block's steps; <paramref name="prefix"/> names them (<c>down_blocks.i</c>).</summary>
    PlanValue Emit(BlockPass pass, string prefix, PlanValue h);

    /// <summary>Every resnet block in it, in order (their time projections are stacked into one GEMM).</summary>
    IEnumerable<ResnetBlock> Resnets { get; }
}

/// <summary>
/// An up block (diffusers' <c>up_blocks[i]</c>): pops the residuals its resnets concatenate, newest first, and returns
/// h for the next level.
/// </summary>
internal interface IUpBlock
{
    /// <summary>Records the block's steps; <paramref name="prefix"/> names them (<c>up_blocks.i</c>).</summary>
    PlanValue Emit(BlockPass pass, string prefix, PlanValue h);

    /// <summary>Every resnet block in it, in order (their time projections are stacked into one GEMM).</summary>
    IEnumerable<ResnetBlock> Resnets { get; }
}
