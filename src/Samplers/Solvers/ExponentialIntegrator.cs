namespace DiffusionKernels.Samplers.Solvers;

/// <summary>The φ-functions of exponential integrators, accurate for small arguments.</summary>
internal static class ExponentialIntegrator
{
    /// <summary>
    /// gₖ(z) = Σ_{n>k} z^{n−k}/n! = (eᶻ − Σ_{n≤k} zⁿ/n!)/zᵏ: g₀ = expm1, g₁ = (eᶻ − 1)/z − 1, g_{k+1} = gₖ/z − 1/(k+1)!
    /// (diffusers' h_phi_k recursion), by its series where the recursion would cancel.
    /// </summary>
    public static double G(int k, double z)
    {
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
        double g = Math.Exp(z) - 1, factorial = 1;
        for (int n = 1; n <= k; n++)
        {
            factorial *= n;
            g = g / z - 1 / factorial;
        }
        return g;
    }

    /// <summary>eᶻ − 1.</summary>
    public static double Expm1(double z) => G(0, z);
}
