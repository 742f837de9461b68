using DiffusionKernels.Medical.Operators;

namespace DiffusionKernels.Medical.Baselines;

/// <summary>Settings of <see cref="TotalVariation.Solve"/>.</summary>
public sealed record TvOptions
{
    /// <summary>Weight λ of the TV term (images in [0, 1]); unused with <see cref="ExactData"/>. Choose it on validation images (<see cref="ParameterSearch"/>).</summary>
    public double Lambda { get; init; } = 3e-3;
    /// <summary>Largest number of primal–dual iterations.</summary>
    public int MaxIterations { get; init; } = 20_000;
    /// <summary>Stop when every image's relative change ‖xₖ − xₖ₋₁‖/‖xₖ‖ is below this (0: run all iterations).</summary>
    public double Tolerance { get; init; } = 1e-5;
    /// <summary>Solve min TV(x) subject to A·x = y exactly (noiseless data) instead of the penalized problem.</summary>
    public bool ExactData { get; init; }
    /// <summary>Constrain x to [lo, hi] (e.g. [0, 1] for images known to lie there); null: unconstrained.</summary>
    public (double Lo, double Hi)? Box { get; init; }
    /// <summary>‖A‖ if known (1 for masks and MRI, 1/f for box downsampling ×f); estimated by power iteration when null.</summary>
    public double? OperatorNorm { get; init; }
    /// <summary>
    /// Primal-to-dual step ratio r: τ = r·s, σ = s/r with s = 0.99/‖K‖ (so τσ‖K‖² &lt; 1 still holds). Images in [0, 1]
    /// against unit-scale duals converge far faster with the primal step larger than the dual one.
    /// </summary>
    public double StepRatio { get; init; } = 1;
}

/// <summary>A TV solution and how the solver got there.</summary>
/// <param name="X">The images [planes, H, W].</param>
/// <param name="Iterations">Iterations run.</param>
/// <param name="Converged">True when every image's relative change fell below the tolerance before the iteration cap.</param>
/// <param name="RelativeChange">The largest relative change of the last iteration.</param>
public sealed record TvResult(float[] X, int Iterations, bool Converged, double RelativeChange);

/// <summary>
/// Total-variation reconstruction by Chambolle–Pock's primal–dual algorithm (PDHG) with K = [A; ∇] (isotropic TV,
/// forward differences, Neumann boundary), ‖K‖² ≤ ‖A‖² + 8 and τ = σ = 0.99/‖K‖, for any A given as host
/// forward/adjoint maps (MRI, inpainting, super-resolution, denoising with A = I). Two problems:
/// <list type="bullet">
/// <item>penalized: min_x ½‖A·x − y‖² + λ·Σ |∇x| (dual step p ← (p + σ(A·x̄ − y))/(1 + σ));</item>
/// <item>exact data (<see cref="TvOptions.ExactData"/>): min_x Σ |∇x| subject to A·x = y (dual step p ← p + σ(A·x̄ − y),
/// the conjugate of the constraint's indicator), the right model for noiseless measurements;</item>
/// </list>
/// either with an optional box constraint on x (the primal step is then projected onto the box). Run to convergence:
/// the stop is the relative change of each image, see <see cref="TvOptions.Tolerance"/>. Images are [planes, H, W];
/// the start is x = Aᵀy.
/// </summary>
public static class TotalVariation
{
    /// <summary>Reconstructs an image of <paramref name="planes"/>×<paramref name="height"/>×<paramref name="width"/> from <paramref name="y"/>.</summary>
    public static float[] Reconstruct(HostMap forward, HostMap adjoint, ReadOnlySpan<float> y, int planes, int height, int width, TvOptions? options = null) =>
        Solve(forward, adjoint, y, planes, height, width, options).X;

    /// <summary>Solves the TV problem of <paramref name="options"/>; see the class summary.</summary>
    public static TvResult Solve(HostMap forward, HostMap adjoint, ReadOnlySpan<float> y, int planes, int height, int width, TvOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(adjoint);
        options ??= new TvOptions();
        if (planes < 1 || height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(planes), $"total variation: bad image size {planes}×{height}×{width}");
        if (!(options.Lambda >= 0) || double.IsInfinity(options.Lambda)) throw new ArgumentOutOfRangeException(nameof(options), $"total variation: lambda must be finite and ≥ 0, found {options.Lambda}");
        if (options.MaxIterations < 1) throw new ArgumentOutOfRangeException(nameof(options), $"total variation: the iteration cap must be ≥ 1, found {options.MaxIterations}");
        if (!(options.Tolerance >= 0) || double.IsInfinity(options.Tolerance)) throw new ArgumentOutOfRangeException(nameof(options), $"total variation: tolerance must be finite and ≥ 0, found {options.Tolerance}");
        if (options.Box is { } box && !(box.Lo <= box.Hi)) throw new ArgumentOutOfRangeException(nameof(options), $"total variation: box [{box.Lo}, {box.Hi}] is empty");
        int n = planes * height * width, m = y.Length;
        double normA = options.OperatorNorm ?? EstimateNorm(forward, adjoint, n, m);
        float step = (float)(0.99 / Math.Sqrt(normA * normA + 8));
        if (!(options.StepRatio > 0) || double.IsInfinity(options.StepRatio)) throw new ArgumentOutOfRangeException(nameof(options), $"total variation: the step ratio must be finite and > 0, found {options.StepRatio}");
        float tau = (float)(step * options.StepRatio), sigma = (float)(step / options.StepRatio), lambda = (float)options.Lambda;
        float lo = options.Box is { } b0 ? (float)b0.Lo : float.NegativeInfinity, hi = options.Box is { } b1 ? (float)b1.Hi : float.PositiveInfinity;
        bool exact = options.ExactData;
        var yy = y.ToArray();

        var x = new float[n];
        adjoint(y, x);
        for (int i = 0; i < n; i++) x[i] = Math.Clamp(x[i], lo, hi);
        var xBar = (float[])x.Clone();
        var p = new float[m];
        var qx = new float[n];
        var qy = new float[n];
        var ax = new float[m];
        var grad = new float[n];
        var change = new double[planes];
        var norm = new double[planes];
        int it = 0;
        double worst = double.PositiveInfinity;
        while (it < options.MaxIterations)
        {
            it++;
            // Dual step for the data term.
            forward(xBar, ax);
            if (exact) for (int i = 0; i < m; i++) p[i] += sigma * (ax[i] - yy[i]);
            else for (int i = 0; i < m; i++) p[i] = (p[i] + sigma * (ax[i] - yy[i])) / (1 + sigma);
            // Dual step for TV: project q + σ∇x̄ onto the λ-ball pointwise (λ = 1 for the exact-data problem: only the scale changes).
            float radius = exact ? 1f : lambda;
            Parallel.For(0, planes, pl =>
            {
                for (int r = 0; r < height; r++)
                    for (int c = 0; c < width; c++)
                    {
                        int at = (pl * height + r) * width + c;
                        float gx = c + 1 < width ? xBar[at + 1] - xBar[at] : 0f;
                        float gy = r + 1 < height ? xBar[at + width] - xBar[at] : 0f;
                        float ux = qx[at] + sigma * gx, uy = qy[at] + sigma * gy;
                        float len = MathF.Sqrt(ux * ux + uy * uy);
                        float shrink = len > radius ? radius / len : 1f;
                        qx[at] = ux * shrink;
                        qy[at] = uy * shrink;
                    }
            });
            // Primal step: x ← proj_box(x − τ(Aᵀp + ∇ᵀq)), then over-relaxation.
            adjoint(p, grad);
            Parallel.For(0, planes, pl =>
            {
                double dd = 0, xx = 0;
                for (int r = 0; r < height; r++)
                    for (int c = 0; c < width; c++)
                    {
                        int at = (pl * height + r) * width + c;
                        float gtq = -((c + 1 < width ? qx[at] : 0f) - (c > 0 ? qx[at - 1] : 0f))
                                    - ((r + 1 < height ? qy[at] : 0f) - (r > 0 ? qy[at - width] : 0f));
                        float next = Math.Clamp(x[at] - tau * (grad[at] + gtq), lo, hi);
                        float d = next - x[at];
                        dd += (double)d * d;
                        xx += (double)next * next;
                        xBar[at] = 2 * next - x[at];
                        x[at] = next;
                    }
                change[pl] = dd;
                norm[pl] = xx;
            });
            worst = 0;
            for (int pl = 0; pl < planes; pl++) worst = Math.Max(worst, norm[pl] > 0 ? Math.Sqrt(change[pl] / norm[pl]) : Math.Sqrt(change[pl]));
            if (options.Tolerance > 0 && worst < options.Tolerance) return new TvResult(x, it, true, worst);
        }
        return new TvResult(x, it, false, worst);
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
