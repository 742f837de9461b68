namespace DiffusionKernels.Samplers.Schedules;

/// <summary>
/// A continuous-time SDE of Song et al. (2021, "Score-based generative modeling through SDEs") on t ∈ [0, 1]:
/// dx_c = f(t)·x_c dt + g(t) dw with marginals x_c = m(t)·x₀ + s(t)·ε. In σ-space x = x_c/m(t) = x₀ + σ(t)·ε with
/// σ = s/m, which is what the denoisers see; <see cref="TimeOf"/> inverts σ(t). Grids follow score_sde:
/// t = linspace(1, ε, N).
/// </summary>
public abstract class ContinuousSchedule
{
    /// <summary>The schedule's name: "vp", "subvp" or "ve".</summary>
    public abstract string Name { get; }
    /// <summary>Smallest time of the sampling grid (score_sde's eps: 1e-3 for VP and sub-VP, 1e-5 for VE).</summary>
    public abstract double Epsilon { get; }
    /// <summary>σ(t) = s(t)/m(t).</summary>
    public abstract double Sigma(double t);
    /// <summary>The t with σ(t) = <paramref name="sigma"/> (σ(t) is increasing; values beyond [0, 1] extrapolate the formula).</summary>
    public abstract double TimeOf(double sigma);
    /// <summary>m(t): the SDE's coordinates are x_c = m(t)·x.</summary>
    public abstract double Scale(double t);
    /// <summary>f(t), the linear drift coefficient: f(x, t) = f(t)·x.</summary>
    public abstract double Drift(double t);
    /// <summary>g(t)².</summary>
    public abstract double DiffusionSquared(double t);

    /// <summary>
    /// σ at t = linspace(1, ε, steps) then a final 0 (the last step denoises), or, without <paramref name="appendZero"/>,
    /// at t = linspace(1, ε, steps + 1). Length steps + 1, decreasing.
    /// </summary>
    public double[] Sigmas(int steps, bool appendZero = true)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be ≥ 1, found {steps}");
        int n = appendZero ? steps : steps + 1;
        var s = new double[steps + 1];
        for (int i = 0; i < n; i++) s[i] = Sigma(n == 1 ? 1 : 1 + (Epsilon - 1) * i / (n - 1));
        return s;
    }

    /// <summary>log(1 + x), accurate for small x.</summary>
    protected static double Log1P(double x)
    {
        double u = 1 + x;
        return u == 1 ? x : Math.Log(u) * x / (u - 1);
    }

    /// <summary>e^x − 1, accurate for small x.</summary>
    protected static double ExpM1(double x)
    {
        if (Math.Abs(x) > 0.5) return Math.Exp(x) - 1;
        double u = Math.Exp(x);
        return u == 1 ? x : (u - 1) * x / Math.Log(u);
    }
}
