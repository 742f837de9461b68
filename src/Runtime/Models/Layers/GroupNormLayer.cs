using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>nn.GroupNorm (affine), optionally with the following activation fused.</summary>
internal sealed class GroupNormLayer
{
    private readonly Tensor _gamma, _beta;
    private readonly int _groups;
    private readonly float _eps;

    public GroupNormLayer(ModelWeights w, string prefix, int channels, int groups, float eps)
    {
        if (groups < 1 || channels % groups != 0)
            throw new ModelFormatException($"{w.Origin}: {prefix}: {channels} channels cannot be split into {groups} groups (norm_num_groups)");
        _gamma = w.Take(prefix + ".weight", channels);
        _beta = w.Take(prefix + ".bias", channels);
        (_groups, _eps) = (groups, eps);
    }

    public PlanValue Emit(PlanBuilder pb, string name, PlanValue x, Activation activation = Activation.Identity)
    {
        var y = pb.Value(name, x.Shape.ToArray());
        var b = pb.Backend;
        pb.Step(name, [x, y], t => b.GroupNorm(t[0], _gamma, _beta, t[1], _groups, _eps, activation));
        return y;
    }

    /// <summary>The norm of cat(a, b) along channels in one step, reading both in place (a resnet's norm1 in an up block).</summary>
    public PlanValue EmitOfConcat(PlanBuilder pb, string name, PlanValue a, PlanValue c, Activation activation)
    {
        var y = pb.Value(name, a.Shape[0], a.Shape[1] + c.Shape[1], a.Shape[2], a.Shape[3]);
        var b = pb.Backend;
        pb.Step(name, [a, c, y], t => b.GroupNormOfConcat(t[0], t[1], _gamma, _beta, t[2], _groups, _eps, activation));
        return y;
    }

    /// <summary>The norm of x [N, C, H, W] written as tokens [N, H·W, C] in one step (an attention block's input).</summary>
    public PlanValue EmitToTokens(PlanBuilder pb, string name, PlanValue x)
    {
        var y = pb.Value(name, x.Shape[0], x.Shape[2] * x.Shape[3], x.Shape[1]);
        var b = pb.Backend;
        pb.Step(name, [x, y], t => b.GroupNormToTokens(t[0], _gamma, _beta, t[1], _groups, _eps));
        return y;
    }
}
