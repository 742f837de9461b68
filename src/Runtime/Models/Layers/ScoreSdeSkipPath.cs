using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// The two paths the score-SDE skip blocks carry through a pass (diffusers' <c>skip_sample</c>): the input image,
/// FIR-downsampled by each skip down block and added through its skip_conv, and the output-space skip, FIR-upsampled
/// and accumulated by each skip up block, then added to conv_out's result.
/// </summary>
internal sealed class ScoreSdeSkipPath
{
    /// <summary>The image path, starting at the network input; other down blocks leave it.</summary>
    public PlanValue Image { get; set; }

    /// <summary>The output skip; null is diffusers' None (no skip up block has added to it yet).</summary>
    public PlanValue? Output { get; set; }

    private ScoreSdeSkipPath(PlanValue image) => Image = image;

    /// <summary>This pass's paths, started on first use.</summary>
    public static ScoreSdeSkipPath Of(BlockPass pass) => pass.State(p => new ScoreSdeSkipPath(p.Input));
}
