using DiffusionKernels.Runtime;

namespace DiffusionKernels.Medical.Operators;

/// <summary>
/// A linear measurement operator y = A·x of an inverse problem, applied on a <see cref="Backend"/> with no host
/// copies. Images x are [B, C, H, W]; the measurement shape follows from the image shape. Scratch tensors are made
/// on first use for a given image shape and reused; dispose the operator to free them.
/// </summary>
/// <remarks>Thread safety: an operator may keep scratch tensors between calls; unless it says otherwise, one caller at a time.</remarks>
public interface ILinearOperator : IDisposable
{
    /// <summary>Short description, e.g. "box downsample ×4".</summary>
    string Name { get; }

    /// <summary>The measurement shape for images of <paramref name="x"/>; throws <see cref="ShapeMismatchException"/> for images the operator cannot take.</summary>
    Shape MeasurementShape(Shape x);

    /// <summary>y = A·x.</summary>
    void Forward(Tensor x, Tensor y);

    /// <summary>x = Aᵀ·y, the adjoint for the real inner products Σ xᵢ·x'ᵢ and Σ yᵢ·y'ᵢ.</summary>
    void Adjoint(Tensor y, Tensor x);

    /// <summary>x = A⁺·y, the Moore–Penrose pseudo-inverse (A·A⁺·A = A, A⁺·A·A⁺ = A⁺).</summary>
    void PseudoInverse(Tensor y, Tensor x);

    /// <summary>
    /// How many real entries of one image's measurement are observed (the rest are structurally zero): the number of
    /// values measurement noise lands on, so E‖A·x₀ − y‖² = this·σ_y² for noise of std σ_y on the observed entries.
    /// <paramref name="index"/> picks the image of a per-image mask (ignored by shared masks).
    /// </summary>
    long ObservedEntries(Shape x, int index = 0);
}
