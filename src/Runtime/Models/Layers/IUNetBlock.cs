using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// A down block. skipSample is the image-resolution path of the score-SDE skip blocks
/// (diffusers' <c>skip_sample</c>): the input image, FIR-downsampled by each skip block; other blocks leave it.
/// </summary>
public interface IDownBlock
{
    PlanValue Emit(PlanBuilder pb, string prefix, PlanValue h, PlanValue tembAct, List<PlanValue> skips, ref PlanValue? skipSample);
}

/// <summary>
/// An up block. skipSample is the output-space skip of the score-SDE skip blocks (null means
/// diffusers' None / 0), FIR-upsampled and accumulated by each skip block, added to conv_out's result at the end.
/// </summary>
public interface IUpBlock
{
    PlanValue Emit(PlanBuilder pb, string prefix, PlanValue h, PlanValue tembAct, List<PlanValue> skips, ref PlanValue? skipSample);
}
