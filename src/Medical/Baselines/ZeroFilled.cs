using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;

namespace DiffusionKernels.Medical.Baselines;

/// <summary>
/// Zero-filled MRI reconstruction: unsampled k-space set to zero and inverse-transformed, x = Aᴴ·y (for real images
/// the real part, Re(Fᴴ·M·y), which is <see cref="CartesianMri.Adjoint"/>).
/// </summary>
public static class ZeroFilled
{
    /// <summary>x = Aᴴ·y on the operator's backend.</summary>
    public static void Reconstruct(CartesianMri op, Tensor kspace, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(op);
        op.Adjoint(kspace, x);
    }

    /// <summary>
    /// The magnitude image |Fᴴ·M·y| that fastMRI calls zero-filled, from packed k-space [B, 2, H, W] on the host;
    /// returns [B, H, W].
    /// </summary>
    public static float[] Magnitude(Backend backend, CartesianMri op, Tensor kspace)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(op);
        ArgumentNullException.ThrowIfNull(kspace);
        using var image = backend.Allocate(kspace.Shape);
        backend.MultiplyMask(kspace, op.Mask, image);
        backend.Fft2dComplex(image, image, inverse: true);
        var c = image.ToArray();
        int b = kspace.Shape[0], plane = kspace.Shape[2] * kspace.Shape[3];
        var m = new float[b * plane];
        for (int s = 0; s < b; s++)
            for (int i = 0; i < plane; i++)
            {
                float re = c[2 * s * plane + i], im = c[(2 * s + 1) * plane + i];
                m[s * plane + i] = MathF.Sqrt(re * re + im * im);
            }
        return m;
    }
}
