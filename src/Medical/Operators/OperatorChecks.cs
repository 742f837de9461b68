using DiffusionKernels.Runtime;

namespace DiffusionKernels.Medical.Operators;

/// <summary>Shape checks shared by the operators; messages name the operator, the argument and both shapes.</summary>
internal static class OperatorChecks
{
    public static void Image(string op, Shape x, string name = "x")
    {
        if (x.Rank != 4) throw ShapeMismatchException.For(op, $"image {name} rank", "4 ([B, C, H, W])", x);
    }

    public static void Pair(ILinearOperator op, Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        var expected = op.MeasurementShape(x.Shape);
        if (y.Shape != expected) throw ShapeMismatchException.For(op.Name, $"measurement y (image x {x.Shape})", expected, y.Shape);
    }

    /// <summary>Checks that a host mask holds only 0 and 1.</summary>
    public static void Binary(string op, string name, ReadOnlySpan<float> mask)
    {
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] != 0f && mask[i] != 1f)
                throw new ArgumentException($"{op}: {name} must hold only 0 and 1, found {mask[i]} at element {i}", name);
    }

    /// <summary>A scratch tensor of <paramref name="shape"/>, reallocated only when the shape changes.</summary>
    public static Tensor Scratch(Backend backend, ref Tensor? scratch, Shape shape)
    {
        if (scratch is not null && scratch.Shape == shape) return scratch;
        scratch?.Dispose();
        scratch = backend.Allocate(shape);
        return scratch;
    }
}
