using DiffusionKernels.Runtime;

namespace DiffusionKernels.Medical.Operators;

/// <summary>
/// Inpainting: A = diag(m) with a 0/1 mask m (1 = observed) broadcast over channels; y has the image's shape and
/// is zero where unobserved. A is an orthogonal projection, so Aᵀ = A⁺ = A.
/// </summary>
/// <remarks>Thread safety: keeps no state between calls; concurrent calls follow the backend's rules (<see cref="Backend.SupportsConcurrentCalls"/>).</remarks>
public sealed class MaskOperator : ILinearOperator
{
    private readonly Backend _backend;
    private readonly float[] _hostMask;

    /// <summary>
    /// Uploads <paramref name="mask"/> of <paramref name="maskShape"/>: [H, W] or [1, 1, H, W] (one mask for the batch)
    /// or [B, 1, H, W] (one per sample); values must be 0 or 1.
    /// </summary>
    public MaskOperator(Backend backend, ReadOnlySpan<float> mask, Shape maskShape)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(maskShape);
        if (maskShape.Rank != 2 && !(maskShape.Rank == 4 && maskShape[1] == 1))
            throw ShapeMismatchException.For("mask operator", "mask shape", "[H, W] or [B, 1, H, W]", maskShape);
        OperatorChecks.Binary("mask operator", nameof(mask), mask);
        _backend = backend;
        _hostMask = mask.ToArray();
        Mask = backend.Upload(mask, maskShape);
    }

    /// <summary>The mask on the backend (owned by the operator).</summary>
    public Tensor Mask { get; }

    /// <inheritdoc />
    public string Name => "mask";

    /// <inheritdoc />
    public Shape MeasurementShape(Shape x)
    {
        OperatorChecks.Image(Name, x);
        int h = Mask.Shape[-2], w = Mask.Shape[-1], b = Mask.Rank == 4 ? Mask.Shape[0] : 1;
        if (x[2] != h || x[3] != w || (b != 1 && x[0] != b))
            throw ShapeMismatchException.For(Name, $"image x (mask {Mask.Shape})", $"[{(b == 1 ? "B" : b.ToString(System.Globalization.CultureInfo.InvariantCulture))}, C, {h}, {w}]", x);
        return x;
    }

    /// <inheritdoc />
    public void Forward(Tensor x, Tensor y)
    {
        OperatorChecks.Pair(this, x, y);
        _backend.MultiplyMask(x, Mask, y);
    }

    /// <inheritdoc />
    public void Adjoint(Tensor y, Tensor x) => Forward(y, x);

    /// <inheritdoc />
    public void PseudoInverse(Tensor y, Tensor x) => Forward(y, x);

    /// <inheritdoc />
    public long ObservedEntries(Shape x, int index = 0)
    {
        MeasurementShape(x);
        return (long)x[1] * OperatorChecks.MaskPlaneSum(_hostMask, Mask.Shape, index);
    }

    /// <inheritdoc />
    public void Dispose() => Mask.Dispose();
}
