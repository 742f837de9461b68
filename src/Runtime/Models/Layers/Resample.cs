using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>Parameter-free resampling steps (nearest ×2 up, average-pool ×2 down).</summary>
internal static class Resample
{
    public static PlanValue Up(PlanBuilder pb, string name, PlanValue x)
    {
        var y = pb.Value(name, x.Shape[0], x.Shape[1], 2 * x.Shape[2], 2 * x.Shape[3]);
        var b = pb.Backend;
        pb.Step(name, [x, y], t => b.UpsampleNearest2x(t[0], t[1]));
        return y;
    }

    public static PlanValue Down(PlanBuilder pb, string name, PlanValue x)
    {
        var y = pb.Value(name, x.Shape[0], x.Shape[1], x.Shape[2] / 2, x.Shape[3] / 2);
        var b = pb.Backend;
        pb.Step(name, [x, y], t => b.AvgPool2x2(t[0], t[1]));
        return y;
    }

    public static PlanValue Concat(PlanBuilder pb, string name, PlanValue a, PlanValue c)
    {
        var y = pb.Value(name, a.Shape[0], a.Shape[1] + c.Shape[1], a.Shape[2], a.Shape[3]);
        var b = pb.Backend;
        pb.Step(name, [a, c, y], t => b.ConcatChannels(t[0], t[1], t[2]));
        return y;
    }
}
