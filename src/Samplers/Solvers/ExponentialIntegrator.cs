namespace DiffusionKernels.Samplers.Solvers;

/// <summary>The φ-functions of exponential integrators (DPM-Solver, UniPC, DEIS), accurate for small arguments.</summary>
public static class ExponentialIntegrator
{
    /// <summary>
    /// eᶻ − 1 within 1.5 ulp for every z (.NET has no Math.Expm1). Below |z| = ½, eᶻ − 1 would lose −log₂|eᶻ − 1| bits
    /// to cancellation (h ≈ 1e-5 between two steps: 17 bits), so there the Taylor series z(1 + z/2(1 + z/3(…))) is
    /// summed from its small end, 17 terms (the rest &lt; 2⁻⁶⁸ of the sum); above, eᶻ − 1 is as exact as Math.Exp.
    /// </summary>
    public static double Expm1(double z)
    {
        if (Math.Abs(z) >= 0.5) return Math.Exp(z) - 1;
        double sum = 0;
        for (int n = 17; n >= 1; n--) sum = z / n * (1 + sum);
        return sum;
    }

    /// <summary>
    /// gₖ(z) = Σ_{n>k} z^{n−k}/n! = (eᶻ − Σ_{n≤k} zⁿ/n!)/zᵏ: g₀ = expm1, g₁ = (eᶻ − 1)/z − 1, g_{k+1} = gₖ/z − 1/(k+1)!
    /// (diffusers' h_phi_k recursion), by its series where the recursion would cancel.
    /// </summary>
    public static double G(int k, double z)
    {
        if (k == 0) return Expm1(z);
        if (Math.Abs(z) < 1)
        {
            double term = 1, sum = 0;
            for (int n = 1; n <= k; n++) term /= n; // 1/k!
            for (int n = k + 1; n < k + 30; n++)
            {
                term *= z / n; // z^{n−k}/n!
                sum += term;
            }
            return sum;
        }
        double g = Expm1(z), factorial = 1;
        for (int n = 1; n <= k; n++)
        {
            factorial *= n;
            g = g / z - 1 / factorial;
        }
        return g;
    }
}
