namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// <see cref="LinearCombination(Tensor, ReadOnlySpan{Tensor}, ReadOnlySpan{float})"/> with per-sample coefficients
    /// c[i·B + b] held in a device tensor: nothing is copied from the host, so the op can sit in a captured graph and read,
    /// at each replay, whatever was last uploaded into <paramref name="coefficients"/>.
    /// </summary>
    internal void LinearCombinationOnDevice(Tensor y, ReadOnlySpan<Tensor> xs, Tensor coefficients)
    {
        const string op = "linear combination";
        if (xs.Length < 1 || xs.Length > MaxLinearCombinationTerms)
            throw new ArgumentException($"{op}: takes 1 to {MaxLinearCombinationTerms} terms, found {xs.Length}");
        Check.Owned(this, op, y, coefficients);
        Check.Float(op, (y, "output"), (coefficients, "coefficients"));
        foreach (var x in xs)
        {
            Check.Owned(this, op, x);
            Check.Float(op, (x, "term"));
            Check.Same(op, x, "term", y, "output");
        }
        Check.Shape(op, coefficients, $"coefficients ({xs.Length} terms over batch {y.Shape[0]})", xs.Length * y.Shape[0]);
        if (!Supports(BackendOp.LinearCombination))
        {
            LinearCombination(y, xs, coefficients.ToArray());
            return;
        }
        LinearCombinationOnDeviceCore(y, xs, coefficients);
    }

    /// <summary>Kernel entry of the device-coefficient overload; the default reads the coefficients back (waiting).</summary>
    private protected virtual void LinearCombinationOnDeviceCore(Tensor y, ReadOnlySpan<Tensor> xs, Tensor coefficients) =>
        LinearCombinationCore(y, xs, coefficients.ToArray(), perSample: true);
}
