using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// Every resnet block's time_emb_proj as one GEMM: the weights [C_i, T] stacked into [ΣC, T] and the biases into [ΣC],
/// so one launch per forward computes every block's projection of act(temb), [B, ΣC]; block i reads its columns
/// [offset_i, offset_i + C_i) in place as the per-channel bias it adds. Each output element is the same dot product
/// over T as in the block's own Linear, so the result does not depend on the fusion.
/// </summary>
/// <remarks>
/// Only for resnet_time_scale_shift "default": the "scale_shift" blocks feed a [B, 2C] projection to the FiLM kernel,
/// which reads whole rows, so those models keep one projection per block. The stacked copy costs ΣC·(T + 1) floats
/// of device memory besides the per-block weights, which the unfused path still uses.
/// </remarks>
internal sealed class FusedTimeProjection : IDisposable
{
    private readonly Tensor _weight, _bias;
    private readonly Dictionary<LinearLayer, int> _offsets = new(ReferenceEqualityComparer.Instance);

    private FusedTimeProjection(Backend backend, IReadOnlyList<LinearLayer> projections)
    {
        int inFeatures = projections[0].In;
        int total = checked(projections.Sum(p => p.Out));
        _weight = backend.Allocate(total, inFeatures);
        try
        {
            _bias = backend.Allocate(total);
            int offset = 0;
            foreach (var p in projections)
            {
                if (p.In != inFeatures) throw new ModelFormatException($"time projections take {p.In} and {inFeatures} features; they cannot be stacked");
                // Row-major [out, in] weights stack along rows: block i's rows start at offset_i · in.
                using (var rows = _weight.View(new Shape(p.Out, inFeatures), (long)offset * inFeatures)) backend.Copy(p.Weight, rows);
                using (var slice = _bias.View(new Shape(p.Out), offset)) backend.Copy(p.Bias, slice);
                _offsets.Add(p, offset);
                offset += p.Out;
            }
        }
        catch
        {
            _weight.Dispose();
            _bias?.Dispose();
            throw;
        }
        Width = total;
    }

    /// <summary>The stacked projection of <paramref name="projections"/>, or null when there is nothing to fuse.</summary>
    public static FusedTimeProjection? Create(Backend backend, IReadOnlyList<LinearLayer> projections) =>
        projections.Count == 0 ? null : new FusedTimeProjection(backend, projections);

    /// <summary>ΣC, the width of the stacked output.</summary>
    public int Width { get; }

    /// <summary>The first column of <paramref name="projection"/>'s output in the stacked one, or null when it is not part of it.</summary>
    public int? OffsetOf(LinearLayer projection) => _offsets.TryGetValue(projection, out int offset) ? offset : null;

    /// <summary>Records the one GEMM (+ bias): [B, T] → [B, ΣC].</summary>
    public PlanValue Emit(PlanBuilder pb, string name, PlanValue tembAct)
    {
        var y = pb.Value(name, tembAct.Shape[0], Width);
        var b = pb.Backend;
        pb.Step(name, [tembAct, y], t => b.Linear(t[0], _weight, _bias, t[1]), 2.0 * tembAct.Shape[0] * _weight.Shape[1] * Width);
        return y;
    }

    public void Dispose()
    {
        _weight.Dispose();
        _bias.Dispose();
    }
}
