namespace DiffusionKernels.Samplers;

/// <summary>Noise-level grids for the solvers (decreasing, length steps + 1).</summary>
public static class SigmaGrids
{
    /// <summary>Karras et al. (2022) eq. 5: σ_i = (σ_max^{1/ρ} + i/(n−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, then a final 0 when <paramref name="appendZero"/>.</summary>
    public static double[] Karras(int steps, double sigmaMin, double sigmaMax, double rho = 7, bool appendZero = true)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be ≥ 1, found {steps}");
        if (!(sigmaMin > 0) || !(sigmaMax > sigmaMin)) throw new ArgumentException($"need 0 < σ_min < σ_max, found {sigmaMin}, {sigmaMax}");
        int n = appendZero ? steps : steps + 1;
        var s = new double[steps + 1];
        double a = Math.Pow(sigmaMax, 1 / rho), b = Math.Pow(sigmaMin, 1 / rho);
        for (int i = 0; i < n; i++) s[i] = Math.Pow(a + (n == 1 ? 0 : (double)i / (n - 1)) * (b - a), rho);
        if (appendZero) s[steps] = 0;
        return s;
    }

    /// <summary>Log-uniform σ from σ_max to σ_min, then a final 0 when <paramref name="appendZero"/>.</summary>
    public static double[] Exponential(int steps, double sigmaMin, double sigmaMax, bool appendZero = true)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be ≥ 1, found {steps}");
        int n = appendZero ? steps : steps + 1;
        var s = new double[steps + 1];
        for (int i = 0; i < n; i++) s[i] = Math.Exp(Math.Log(sigmaMax) + (n == 1 ? 0 : (double)i / (n - 1)) * (Math.Log(sigmaMin) - Math.Log(sigmaMax)));
        if (appendZero) s[steps] = 0;
        return s;
    }
}
