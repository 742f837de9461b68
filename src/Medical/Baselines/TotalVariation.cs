using DiffusionKernels.Medical.Operators;

namespace DiffusionKernels.Medical.Baselines;

/// <summary>Settings of <see cref="TotalVariation.Reconstruct"/>.</summary>
public sealed record TvOptions
{
    /// <summary>Weight λ of the TV term (for images in [0, 1]; 3e-3 suits noise-free 4× MRI of a 64×64 phantom).</summary>
    public double Lambda { get; init; } = 3e-3;
    /// <summary>Primal–dual iterations.</summary>
    public int Iterations { get; init; } = 1000;
    /// <summary>‖A‖ if known (1 for masks and MRI, 1/f for box downsampling ×f); estimated by power iteration when null.</summary>
    public double? OperatorNorm { get; init; }
}

/// <summary>
/// Total-variation reconstruction min_x ½‖A·x − y‖² + λ·Σ_planes Σ_pixels |∇x| (isotropic TV, forward differences,
/// Neumann boundary) by Chambolle–Pock's primal–dual algorithm (PDHG) with K = [A; ∇], ‖K‖² ≤ ‖A‖² + 8, and
/// τ = σ = 0.99/‖K‖. Works for any A given as host forward/adjoint maps (MRI, inpainting, super-resolution).
/// Images are [planes, H, W]; the start is x = Aᵀy.
/// </summary>
public static class TotalVariation
{
    /// <summary>Reconstructs an image of <paramref name="planes"/>×<paramref name="height"/>×<paramref name="width"/> from <paramref name="y"/>.</summary>
    public static float[] Reconstruct(HostMap forward, HostMap adjoint, ReadOnlySpan<float> y, int planes, int height, int width, TvOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(adjoint);
        options ??= new TvOptions();
        if (planes < 1 || height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(planes), $"total variation: bad image size {planes}×{height}×{width}");
        if (!(options.Lambda >= 0)) throw new ArgumentOutOfRangeException(nameof(options), $"total variation: lambda must be ≥ 0, found {options.Lambda}");
        if (options.Iterations < 1) throw new ArgumentOutOfRangeException(nameof(options), $"total variation: iterations must be ≥ 1, found {options.Iterations}");
        int n = planes * height * width, m = y.Length;
        double normA = options.OperatorNorm ?? EstimateNorm(forward, adjoint, n, m);
        float step = (float)(0.99 / Math.Sqrt(normA * normA + 8));
        float tau = step, sigma = step, lambda = (float)options.Lambda;

        var x = new float[n];
        adjoint(y, x);
        var xBar = (float[])x.Clone();
        var p = new float[m];
        var qx = new float[n];
        var qy = new float[n];
        var ax = new float[m];
        var grad = new float[n];
        for (int it = 0; it < options.Iterations; it++)
        {
            // Dual step for the data term: prox of σ·F* with F = ½‖· − y‖².
            forward(xBar, ax);
            for (int i = 0; i < m; i++) p[i] = (p[i] + sigma * (ax[i] - y[i])) / (1 + sigma);
            // Dual step for TV: project q + σ∇x̄ onto the λ-ball pointwise.
            for (int pl = 0; pl < planes; pl++)
                for (int r = 0; r < height; r++)
                    for (int c = 0; c < width; c++)
                    {
                        int at = (pl * height + r) * width + c;
                        float gx = c + 1 < width ? xBar[at + 1] - xBar[at] : 0f;
                        float gy = r + 1 < height ? xBar[at + width] - xBar[at] : 0f;
                        float ux = qx[at] + sigma * gx, uy = qy[at] + sigma * gy;
                        float norm = MathF.Sqrt(ux * ux + uy * uy);
                        float shrink = norm > lambda ? lambda / norm : 1f;
                        qx[at] = ux * shrink;
                        qy[at] = uy * shrink;
                    }
            // Primal step: x ← x − τ(Aᵀp + ∇ᵀq), then over-relaxation.
            adjoint(p, grad);
            for (int pl = 0; pl < planes; pl++)
                for (int r = 0; r < height; r++)
                    for (int c = 0; c < width; c++)
                    {
                        int at = (pl * height + r) * width + c;
                        float gtq = -((c + 1 < width ? qx[at] : 0f) - (c > 0 ? qx[at - 1] : 0f))
                                    - ((r + 1 < height ? qy[at] : 0f) - (r > 0 ? qy[at - width] : 0f));
                        float next = x[at] - tau * (grad[at] + gtq);
                        xBar[at] = 2 * next - x[at];
                        x[at] = next;
                    }
        }
        return x;
    }

    /// <summary>‖A‖ by 30 power iterations on AᵀA (plus 1% margin).</summary>
    public static double EstimateNorm(HostMap forward, HostMap adjoint, int imageLength, int measurementLength)
    {
        var v = new float[imageLength];
        var rng = new Random(12345);
        for (int i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() - 0.5);
        var av = new float[measurementLength];
        double lambda = 0;
        for (int it = 0; it < 30; it++)
        {
            double norm = Math.Sqrt(v.Sum(t => (double)t * t));
            if (norm == 0) return 1;
            for (int i = 0; i < v.Length; i++) v[i] = (float)(v[i] / norm);
            forward(v, av);
            adjoint(av, v);
            lambda = Math.Sqrt(v.Sum(t => (double)t * t)); // ≈ ‖AᵀA‖ = ‖A‖²
        }
        return Math.Sqrt(lambda) * 1.01;
    }
}
