using DiffusionKernels.Runtime;

namespace DiffusionKernels.Medical.Operators;

/// <summary>
/// Cartesian MRI: y = M·F·x, F the orthonormal 2-D FFT (DC at index [0, 0], see <see cref="Backend.Fft2d"/>) and M a
/// 0/1 sampling mask over k-space (usually whole phase-encode rows from <see cref="MriMasks"/>). k-space y is packed
/// complex [B, 2, H, W] (channel 0 real, channel 1 imaginary), zero where unsampled.
/// <para>
/// Real images (x [B, 1, H, W], the default): A maps ℝⁿ into ℂᵐ ≅ ℝ²ᵐ and Aᵀy = Re(Fᴴ·M·y). Because F·x is Hermitian
/// symmetric for real x, AᵀA = Fᴴ·D·F with D[k] = (M[k] + M[−k])/2: 1 where a frequency and its mirror are both
/// sampled, ½ where only one is, 0 where neither. So A⁺ = (AᵀA)⁺Aᵀ = Re(Fᴴ·W·y) with weights W = M·D⁺ (1 on paired,
/// 2 on unpaired samples), which equals Aᵀ when the mask is point-symmetric (as the equispaced masks nearly are).
/// Zero-filled reconstruction is Aᵀy.
/// </para>
/// <para>Complex images (x [B, 2, H, W]): A = M·F is a partial isometry, so Aᴴ = A⁺ = Fᴴ·M.</para>
/// </summary>
/// <remarks>Thread safety: keeps a k-space scratch tensor between calls, so one caller at a time.</remarks>
public sealed class CartesianMri : ILinearOperator
{
    private readonly Backend _backend;
    private readonly float[] _hostMask;
    private Tensor? _kspace;

    /// <summary>
    /// An MRI operator for a 0/1 <paramref name="mask"/> of <paramref name="maskShape"/> [H, W] (shared by the batch)
    /// or [B, 1, H, W] (one per sample), e.g. <see cref="MriMasks.Random"/>; images are real unless
    /// <paramref name="complexImages"/>.
    /// </summary>
    public CartesianMri(Backend backend, ReadOnlySpan<float> mask, Shape maskShape, bool complexImages = false)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(maskShape);
        if (maskShape.Rank != 2 && !(maskShape.Rank == 4 && maskShape[1] == 1))
            throw ShapeMismatchException.For("cartesian mri", "mask shape", "[H, W] or [B, 1, H, W]", maskShape);
        if (mask.Length != maskShape.Length) throw ShapeMismatchException.For("cartesian mri", $"mask element count for {maskShape}", maskShape.Length, mask.Length);
        OperatorChecks.Binary("cartesian mri", nameof(mask), mask);
        _backend = backend;
        _hostMask = mask.ToArray();
        ComplexImages = complexImages;
        Mask = backend.Upload(mask, maskShape);
        PseudoInverseWeights = complexImages ? Mask : backend.Upload(Weights(mask, maskShape[-2], maskShape[-1]), maskShape);
    }

    /// <summary>The sampling mask on the backend (owned by the operator).</summary>
    public Tensor Mask { get; }

    /// <summary>The k-space weights W of the pseudo-inverse (the mask itself for complex images).</summary>
    public Tensor PseudoInverseWeights { get; }

    /// <summary>True when images are complex [B, 2, H, W] rather than real [B, 1, H, W].</summary>
    public bool ComplexImages { get; }

    /// <inheritdoc />
    public string Name => "cartesian mri";

    /// <summary>W = M/D with D[k] = (M[k] + M[−k])/2 (0 where M is 0), per mask plane.</summary>
    internal static float[] Weights(ReadOnlySpan<float> mask, int h, int w)
    {
        var weights = new float[mask.Length];
        for (int p = 0; p < mask.Length / (h * w); p++)
            for (int u = 0; u < h; u++)
                for (int v = 0; v < w; v++)
                {
                    int at = p * h * w + u * w + v, mirror = p * h * w + (h - u) % h * w + (w - v) % w;
                    if (mask[at] != 0f) weights[at] = mask[mirror] != 0f ? 1f : 2f;
                }
        return weights;
    }

    /// <inheritdoc />
    public Shape MeasurementShape(Shape x)
    {
        OperatorChecks.Image(Name, x);
        int channels = ComplexImages ? 2 : 1, h = Mask.Shape[-2], w = Mask.Shape[-1], b = Mask.Rank == 4 ? Mask.Shape[0] : 1;
        if (x[1] != channels || x[2] != h || x[3] != w || (b != 1 && x[0] != b))
            throw ShapeMismatchException.For(Name, $"image x (mask {Mask.Shape}, {(ComplexImages ? "complex" : "real")} images)",
                $"[{(b == 1 ? "B" : b.ToString(System.Globalization.CultureInfo.InvariantCulture))}, {channels}, {h}, {w}]", x);
        return new Shape(x[0], 2, h, w);
    }

    /// <inheritdoc />
    public void Forward(Tensor x, Tensor y)
    {
        OperatorChecks.Pair(this, x, y);
        _backend.Fft2dComplex(x, y, inverse: false);
        _backend.MultiplyMask(y, Mask, y);
    }

    /// <inheritdoc />
    public void Adjoint(Tensor y, Tensor x) => Back(y, x, Mask);

    /// <inheritdoc />
    public void PseudoInverse(Tensor y, Tensor x) => Back(y, x, PseudoInverseWeights);

    /// <summary>x = Re(Fᴴ·(w ⊙ y)) (or the complex result for complex images).</summary>
    private void Back(Tensor y, Tensor x, Tensor weights)
    {
        OperatorChecks.Pair(this, x, y);
        if (ComplexImages)
        {
            _backend.MultiplyMask(y, weights, x);
            _backend.Fft2dComplex(x, x, inverse: true);
            return;
        }
        var k = OperatorChecks.Scratch(_backend, ref _kspace, y.Shape);
        _backend.MultiplyMask(y, weights, k);
        _backend.Fft2dComplex(k, k, inverse: true);
        _backend.CopyChannels(k, 0, x, 0, 1);
    }

    /// <inheritdoc />
    public long ObservedEntries(Shape x, int index = 0)
    {
        MeasurementShape(x);
        return 2 * OperatorChecks.MaskPlaneSum(_hostMask, Mask.Shape, index);
    }

    /// <summary>The host copy of the sampling mask ([H, W] or [B, 1, H, W] as given).</summary>
    public ReadOnlySpan<float> HostMask => _hostMask;

    /// <inheritdoc />
    public void Dispose()
    {
        _kspace?.Dispose();
        if (!ReferenceEquals(PseudoInverseWeights, Mask)) PseudoInverseWeights.Dispose();
        Mask.Dispose();
    }
}
