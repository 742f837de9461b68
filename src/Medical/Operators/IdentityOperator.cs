using DiffusionKernels.Runtime;

namespace DiffusionKernels.Medical.Operators;

/// <summary>A = I (denoising): y = x, Aᵀ = A⁺ = I.</summary>
/// <remarks>Thread safety: keeps no state; concurrent calls follow the backend's rules.</remarks>
public sealed class IdentityOperator(Backend backend) : ILinearOperator
{
    /// <inheritdoc />
    public string Name => "identity";

    /// <inheritdoc />
    public Shape MeasurementShape(Shape x)
    {
        OperatorChecks.Image(Name, x);
        return x;
    }

    /// <inheritdoc />
    public void Forward(Tensor x, Tensor y) => CopyIfDifferent(x, y);

    /// <inheritdoc />
    public void Adjoint(Tensor y, Tensor x) => CopyIfDifferent(y, x);

    /// <inheritdoc />
    public void PseudoInverse(Tensor y, Tensor x) => CopyIfDifferent(y, x);

    private void CopyIfDifferent(Tensor src, Tensor dst)
    {
        OperatorChecks.Pair(this, src, dst);
        if (!ReferenceEquals(src.Storage, dst.Storage) || src.Offset != dst.Offset) backend.Copy(src, dst);
    }

    /// <inheritdoc />
    public long ObservedEntries(Shape x, int index = 0) => MeasurementShape(x).Length / x[0];

    /// <inheritdoc />
    public void Dispose() { }
}
