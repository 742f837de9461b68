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

    /// <summary>Ones in plane <paramref name="index"/> of a [H, W] (shared) or [B, 1, H, W] mask.</summary>
    public static long MaskPlaneSum(float[] mask, Shape maskShape, int index)
    {
        int plane = maskShape[-2] * maskShape[-1], planes = mask.Length / plane;
        if (planes > 1 && (index < 0 || index >= planes))
            throw new ArgumentOutOfRangeException(nameof(index), $"mask: image {index} is outside the {planes} per-image masks");
        int at = planes > 1 ? index : 0;
        long sum = 0;
        for (int i = 0; i < plane; i++) sum += mask[at * plane + i] != 0f ? 1 : 0;
        return sum;
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
