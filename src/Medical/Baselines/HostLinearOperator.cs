using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;

namespace DiffusionKernels.Medical.Baselines;

/// <summary>A linear map between host arrays: writes A·input (or Aᵀ·input) into output.</summary>
public delegate void HostMap(ReadOnlySpan<float> input, Span<float> output);

/// <summary>
/// Runs an <see cref="ILinearOperator"/> on host arrays for the classical solvers, through two tensors allocated
/// once (each call uploads its input and downloads the result).
/// </summary>
internal sealed class HostLinearOperator : IDisposable
{
    private readonly ILinearOperator _op;
    private readonly Tensor _x, _y;

    /// <summary>Wraps <paramref name="op"/> for images of <paramref name="imageShape"/> on <paramref name="backend"/>.</summary>
    public HostLinearOperator(ILinearOperator op, Backend backend, Shape imageShape)
    {
        ArgumentNullException.ThrowIfNull(op);
        ArgumentNullException.ThrowIfNull(backend);
        _op = op;
        _x = backend.Allocate(imageShape);
        _y = backend.Allocate(op.MeasurementShape(imageShape));
    }

    /// <summary>Elements of an image.</summary>
    public int ImageLength => checked((int)_x.Length);

    /// <summary>Elements of a measurement.</summary>
    public int MeasurementLength => checked((int)_y.Length);

    /// <summary>y = A·x.</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        _x.Backend.CopyFromHost(x, _x);
        _op.Forward(_x, _y);
        _y.Backend.CopyToHost(_y, y);
    }

    /// <summary>x = Aᵀ·y.</summary>
    public void Adjoint(ReadOnlySpan<float> y, Span<float> x)
    {
        _y.Backend.CopyFromHost(y, _y);
        _op.Adjoint(_y, _x);
        _x.Backend.CopyToHost(_x, x);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _x.Dispose();
        _y.Dispose();
    }
}
