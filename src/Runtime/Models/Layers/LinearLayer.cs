using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>nn.Linear with bias: y = act(x·Wᵀ + b), W [out, in].</summary>
internal sealed class LinearLayer
{
    private readonly Tensor _weight, _bias;

    public LinearLayer(ModelWeights w, string prefix, int inFeatures, int outFeatures)
    {
        _weight = w.Take(prefix + ".weight", outFeatures, inFeatures);
        _bias = w.Take(prefix + ".bias", outFeatures);
        (In, Out) = (inFeatures, outFeatures);
    }

    public int In { get; }
    /// <summary>The weight [out, in].</summary>
    public Tensor Weight => _weight;
    /// <summary>The bias [out].</summary>
    public Tensor Bias => _bias;
    public int Out { get; }

    public PlanValue Emit(PlanBuilder pb, string name, PlanValue x, Activation activation = Activation.Identity)
    {
        var dims = x.Shape.ToArray();
        dims[^1] = Out;
        var y = pb.Value(name, dims);
        var b = pb.Backend;
        pb.Step(name, [x, y], t => b.Linear(t[0], _weight, _bias, t[1], activation), 2.0 * (x.Shape.Length / In) * In * Out);
        return y;
    }
}
