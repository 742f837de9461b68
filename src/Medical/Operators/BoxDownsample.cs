using DiffusionKernels.Runtime;

namespace DiffusionKernels.Medical.Operators;

/// <summary>
/// Super-resolution: A = f×f average pooling (f = 2 or 4), x [B, C, H, W] → y [B, C, H/f, W/f] with H and W divisible
/// by f. Aᵀ = nearest upsampling / f²; since A·Aᵀ = I/f², A⁺ = f²·Aᵀ = nearest upsampling.
/// </summary>
/// <remarks>Thread safety: keeps a scratch tensor between calls, so one caller at a time.</remarks>
public sealed class BoxDownsample : ILinearOperator
{
    private readonly Backend _backend;
    private Tensor? _half;

    /// <summary>Box downsampling by <paramref name="factor"/> (2 or 4).</summary>
    public BoxDownsample(Backend backend, int factor)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (factor != 2 && factor != 4) throw new ArgumentOutOfRangeException(nameof(factor), $"box downsample: factor must be 2 or 4, found {factor}");
        _backend = backend;
        Factor = factor;
    }

    /// <summary>The downsampling factor.</summary>
    public int Factor { get; }

    /// <inheritdoc />
    public string Name => $"box downsample ×{Factor}";

    /// <inheritdoc />
    public Shape MeasurementShape(Shape x)
    {
        OperatorChecks.Image(Name, x);
        if (x[2] % Factor != 0 || x[3] % Factor != 0)
            throw ShapeMismatchException.For(Name, "image x height and width", $"multiples of {Factor}", x);
        return new Shape(x[0], x[1], x[2] / Factor, x[3] / Factor);
    }

    /// <inheritdoc />
    public void Forward(Tensor x, Tensor y)
    {
        OperatorChecks.Pair(this, x, y);
        if (Factor == 2) { _backend.AvgPool2x2(x, y); return; }
        var half = Half(x.Shape);
        _backend.AvgPool2x2(x, half);
        _backend.AvgPool2x2(half, y);
    }

    /// <inheritdoc />
    public void Adjoint(Tensor y, Tensor x)
    {
        PseudoInverse(y, x);
        _backend.Scale(x, 1f / (Factor * Factor), x);
    }

    /// <inheritdoc />
    public void PseudoInverse(Tensor y, Tensor x)
    {
        OperatorChecks.Pair(this, x, y);
        if (Factor == 2) { _backend.UpsampleNearest2x(y, x); return; }
        var half = Half(x.Shape);
        _backend.UpsampleNearest2x(y, half);
        _backend.UpsampleNearest2x(half, x);
    }

    /// <inheritdoc />
    public long ObservedEntries(Shape x, int index = 0) => MeasurementShape(x).Length / x[0];

    private Tensor Half(Shape x) => OperatorChecks.Scratch(_backend, ref _half, new Shape(x[0], x[1], x[2] / 2, x[3] / 2));

    /// <inheritdoc />
    public void Dispose() => _half?.Dispose();
}
