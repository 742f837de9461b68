using DiffusionKernels.Medical.Operators;

namespace DiffusionKernels.Medical.Baselines;

/// <summary>Settings of <see cref="WaveletSparsity.Solve"/>.</summary>
public sealed record WaveletOptions
{
    /// <summary>Weight λ of the ℓ1 term (images in [0, 1]). Choose it on validation images (<see cref="ParameterSearch"/>).</summary>
    public double Lambda { get; init; } = 1e-3;
    /// <summary>The wavelet.</summary>
    public DaubechiesWavelet Wavelet { get; init; } = DaubechiesWavelet.Db4;
    /// <summary>Decomposition levels (null: as many as the size allows, at most 4).</summary>
    public int? Levels { get; init; }
    /// <summary>Largest number of FISTA iterations.</summary>
    public int MaxIterations { get; init; } = 5_000;
    /// <summary>Stop when every image's relative change is below this (0: run all iterations).</summary>
    public double Tolerance { get; init; } = 1e-5;
    /// <summary>‖A‖ if known; estimated by power iteration when null.</summary>
    public double? OperatorNorm { get; init; }
}

/// <summary>
/// Compressed-sensing reconstruction with wavelet sparsity (Lustig et al. 2007): min_x ½‖A·x − y‖² + λ‖Ψ_d x‖₁, Ψ an
/// orthonormal wavelet transform (<see cref="Wavelet2d"/>) and Ψ_d its detail coefficients (the coarsest approximation
/// is not penalized), by FISTA (Beck &amp; Teboulle 2009) with step 1/‖A‖²; the proximal step is exact because Ψ is
/// orthonormal: Ψᵀ·soft(Ψ·v, λ/L). Images are [planes, H, W]; the start is Aᵀy.
/// </summary>
public static class WaveletSparsity
{
    /// <summary>Solves the problem for <paramref name="y"/>; see the class summary.</summary>
    public static TvResult Solve(HostMap forward, HostMap adjoint, ReadOnlySpan<float> y, int planes, int height, int width, WaveletOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(adjoint);
        options ??= new WaveletOptions();
        if (!(options.Lambda >= 0) || double.IsInfinity(options.Lambda)) throw new ArgumentOutOfRangeException(nameof(options), $"wavelet sparsity: lambda must be finite and ≥ 0, found {options.Lambda}");
        if (options.MaxIterations < 1) throw new ArgumentOutOfRangeException(nameof(options), $"wavelet sparsity: the iteration cap must be ≥ 1, found {options.MaxIterations}");
        if (!(options.Tolerance >= 0) || double.IsInfinity(options.Tolerance)) throw new ArgumentOutOfRangeException(nameof(options), $"wavelet sparsity: tolerance must be finite and ≥ 0, found {options.Tolerance}");
        int levels = options.Levels ?? Math.Min(4, Wavelet2d.MaxLevels(height, width));
        if (levels < 1) throw new ArgumentException($"wavelet sparsity: a {height}×{width} image takes no wavelet level");
        var psi = new Wavelet2d(options.Wavelet, levels);
        int n = planes * height * width, m = y.Length, plane = height * width;
        double normA = options.OperatorNorm ?? TotalVariation.EstimateNorm(forward, adjoint, n, m);
        double lipschitz = normA * normA, step = 1 / lipschitz;
        float threshold = (float)(options.Lambda * step);
        var keep = psi.ApproximationMask(height, width);
        var yy = y.ToArray();

        var x = new float[n];
        adjoint(y, x);
        var z = (float[])x.Clone();
        var az = new float[m];
        var grad = new float[n];
        var v = new float[n];
        double t = 1, worst = double.PositiveInfinity;
        int it = 0;
        while (it < options.MaxIterations)
        {
            it++;
            forward(z, az);
            for (int i = 0; i < m; i++) az[i] -= yy[i];
            adjoint(az, grad);
            for (int i = 0; i < n; i++) v[i] = (float)(z[i] - step * grad[i]);
            var c = psi.Forward(v, planes, height, width);
            for (int i = 0; i < n; i++)
                if (!keep[i % plane]) c[i] = MathF.Sign(c[i]) * MathF.Max(0f, MathF.Abs(c[i]) - threshold);
            var next = psi.Inverse(c, planes, height, width);
            double tNext = (1 + Math.Sqrt(1 + 4 * t * t)) / 2, momentum = (t - 1) / tNext;
            worst = 0;
            for (int p = 0; p < planes; p++)
            {
                double dd = 0, xx = 0;
                for (int i = p * plane; i < (p + 1) * plane; i++)
                {
                    double d = next[i] - x[i];
                    dd += d * d;
                    xx += (double)next[i] * next[i];
                    z[i] = (float)(next[i] + momentum * d);
                }
                worst = Math.Max(worst, xx > 0 ? Math.Sqrt(dd / xx) : Math.Sqrt(dd));
            }
            x = next;
            t = tNext;
            if (options.Tolerance > 0 && worst < options.Tolerance) return new TvResult(x, it, true, worst);
        }
        return new TvResult(x, it, false, worst);
    }
}
