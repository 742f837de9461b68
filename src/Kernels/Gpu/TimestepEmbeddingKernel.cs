using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// diffusers' sinusoidal timestep embedding, one thread per output element, with the float32 rounding steps
/// of the CPU twin (<see cref="Cpu.TimestepEmbedding"/>).
/// </summary>
/// <remarks>
/// exp, sin and cos are evaluated here in double by short polynomials and rounded once to float, rather than
/// with <c>XMath</c>'s float versions: on CUDA those map to <c>ex2.approx</c> and <c>sin/cos.approx</c>, whose
/// error (~2 ulp in the frequency, no range reduction for arguments near 1000) would put ~1e-4 into the
/// embedding at t ≈ 1000. In double the results are the correctly rounded floats on every device (the CPU twin
/// uses the libm double functions), so CUDA, the emulator and the CPU agree to the last bit in practice.
/// The kernel is tiny ([batch, dim] elements), so double arithmetic costs nothing that matters.
/// </remarks>
internal sealed class TimestepEmbeddingKernel
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, EmbeddingParameters> _kernel;

    /// <summary>Compiles the kernel for <paramref name="accelerator"/>.</summary>
    public TimestepEmbeddingKernel(Accelerator accelerator) =>
        _kernel = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, EmbeddingParameters>(Embed);

    /// <summary>y [rows, dim] from timesteps [rows]; see <see cref="Cpu.TimestepEmbedding.Compute"/>.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> timesteps, ArrayView<float> y, int dim, bool flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod)
    {
        if (y.Length == 0) return;
        int half = dim / 2;
        var (negLog, divisor) = Cpu.TimestepEmbedding.Constants(half, downscaleFreqShift, maxPeriod);
        _kernel(LaunchCounter.Count(stream), ElementwiseKernels.Threads(y.Length, "timestep embedding"), timesteps, y,
            new EmbeddingParameters(dim, half, flipSinToCos ? 1 : 0, negLog, divisor, scale));
    }

    /// <summary>The per-launch scalars.</summary>
    public readonly struct EmbeddingParameters(int dim, int half, int flip, float negLogMaxPeriod, float divisor, float scale)
    {
        public readonly int Dim = dim, Half = half, Flip = flip;
        public readonly float NegLogMaxPeriod = negLogMaxPeriod, Divisor = divisor, Scale = scale;
    }

    private static void Embed(Index1D i, ArrayView<float> timesteps, ArrayView<float> y, EmbeddingParameters p)
    {
        int row = i / p.Dim;
        int column = i - row * p.Dim;
        if (column >= 2 * p.Half)
        {
            y[i] = 0f; // the padding column of an odd dim
            return;
        }
        bool firstHalf = column < p.Half;
        int k = firstHalf ? column : column - p.Half;
        bool wantSin = firstHalf != (p.Flip != 0);

        float exponent = p.NegLogMaxPeriod * k;
        exponent /= p.Divisor;
        float frequency = (float)Exp(exponent);
        float arg = p.Scale * (timesteps[row] * frequency);
        y[i] = (float)SinOrCos(arg, wantSin);
    }

    private const double Ln2 = 0.69314718055994530942, InvLn2 = 1.4426950408889634074;
    private const double TwoOverPi = 0.63661977236758134308;

    // π/2 = PiHalf1 + PiHalf2 + PiHalf3, the first two with 33 significant bits so q·PiHalfᵢ is exact for |q| < 2^20.
    private const double PiHalf1 = 1.5707963267341256, PiHalf2 = 6.077100506303966e-11, PiHalf3 = 2.0222662487959506e-21;

    /// <summary>e^x to ~1e-16 relative: x = k·ln2 + r with |r| ≤ ln2/2, a degree-13 Taylor polynomial for e^r, then ·2^k.</summary>
    private static double Exp(double x)
    {
        if (!(x >= -745.0)) return x < -745.0 ? 0.0 : x; // underflow, or NaN passing through
        if (x > 709.0) return double.PositiveInfinity;
        double kf = x * InvLn2;
        int k = (int)(kf < 0 ? kf - 0.5 : kf + 0.5);
        double r = x - k * Ln2;
        double p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720
            + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800
            + r * (1.0 / 479001600 + r * (1.0 / 6227020800)))))))))))));
        // Multiply by 2^k in steps that stay normal (k lies in [-1075, 1023]).
        double step = k < 0 ? 0.5 : 2.0;
        int count = k < 0 ? -k : k;
        while (count >= 64)
        {
            p *= k < 0 ? 5.421010862427522e-20 : 18446744073709551616.0; // 2^∓64
            count -= 64;
        }
        for (; count > 0; count--) p *= step;
        return p;
    }

    /// <summary>
    /// sin(x) or cos(x) to ~1e-16 for |x| up to ~1e6: x = q·π/2 + r with |r| ≤ π/4 (Cody–Waite, π/2 in three parts),
    /// Taylor polynomials for sin r and cos r, then the quadrant's sign and swap.
    /// </summary>
    private static double SinOrCos(double x, bool wantSin)
    {
        double qf = x * TwoOverPi;
        long q = (long)(qf < 0 ? qf - 0.5 : qf + 0.5);
        double r = ((x - q * PiHalf1) - q * PiHalf2) - q * PiHalf3;
        double r2 = r * r;
        double sin = r * (1.0 - r2 * (1.0 / 6 - r2 * (1.0 / 120 - r2 * (1.0 / 5040 - r2 * (1.0 / 362880 - r2 * (1.0 / 39916800
            - r2 * (1.0 / 6227020800 - r2 * (1.0 / 1307674368000 - r2 * (1.0 / 355687428096000)))))))));
        double cos = 1.0 - r2 * (1.0 / 2 - r2 * (1.0 / 24 - r2 * (1.0 / 720 - r2 * (1.0 / 40320 - r2 * (1.0 / 3628800
            - r2 * (1.0 / 479001600 - r2 * (1.0 / 87178291200 - r2 * (1.0 / 20922789888000 - r2 * (1.0 / 6402373705728000)))))))));
        // sin(r + q·π/2) cycles sin, cos, −sin, −cos; cos(x) = sin(x + π/2) is one quadrant ahead.
        int quadrant = (int)(q & 3) + (wantSin ? 0 : 1);
        double value = (quadrant & 1) == 0 ? sin : cos;
        return (quadrant & 2) == 0 ? value : -value;
    }
}
