using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>
/// SDEdit denoising (Meng et al. 2022): a measurement y = x₀ + σ_y·n with Gaussian noise is already a sample of the
/// σ-space forward process at σ_y, so the reverse process is started there (x = y, σ_start = σ_y) and any solver runs
/// down a Karras grid from σ_y to 0.
/// </summary>
public static class SdEdit
{
    /// <summary>The grid: Karras (ρ = 7) from <paramref name="measurementSigma"/> (capped at the model's σ_max) to σ_min, then 0.</summary>
    public static double[] Sigmas(IDenoiser denoiser, double measurementSigma, int steps)
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        if (!(measurementSigma > 0) || !double.IsFinite(measurementSigma))
            throw new ArgumentOutOfRangeException(nameof(measurementSigma), $"SDEdit: the measurement σ must be finite and > 0, found {measurementSigma}");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"SDEdit: steps must be ≥ 1, found {steps}");
        double top = Math.Min(measurementSigma, denoiser.SigmaMax);
        if (top <= denoiser.SigmaMin) return [top, 0];
        var grid = SigmaGrids.Karras(steps, denoiser.SigmaMin, top);
        grid[0] = top; // exactly σ_y: the Karras formula can round the endpoint
        return grid;
    }

    /// <summary>Denoises <paramref name="x"/> in place: it enters as the noisy measurement (model units) and leaves as the estimate.</summary>
    public static void Denoise(Tensor x, double measurementSigma, int steps, Solver solver, SamplerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(solver);
        ArgumentNullException.ThrowIfNull(ctx);
        solver.Sample(x, Sigmas(ctx.Denoiser, measurementSigma, steps), ctx);
    }
}
