namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// Coefficients of linear multistep methods on a non-uniform grid: ∫ ℓⱼ(v)·w(v) dv from a to b, ℓⱼ the Lagrange
/// basis polynomials of the nodes vⱼ, by 8-point Gauss–Legendre quadrature on the host (exact for the polynomial
/// integrands of LMS, to double precision for DEIS's ℓⱼ(log σ)·σ).
/// </summary>
internal static class LagrangeQuadrature
{
    private static readonly double[] Abscissae = [-0.9602898564975363, -0.7966664774136267, -0.5255324099163290, -0.1834346424956498,
        0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363];
    private static readonly double[] Weights = [0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620,
        0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763];

    public static double[] Integrals(double[] nodes, double a, double b, Func<double, double>? weight = null)
    {
        var result = new double[nodes.Length];
        double half = (b - a) / 2, mid = (a + b) / 2;
        for (int q = 0; q < Abscissae.Length; q++)
        {
            double v = mid + half * Abscissae[q], w = half * Weights[q] * (weight?.Invoke(v) ?? 1);
            for (int j = 0; j < nodes.Length; j++)
            {
                double basis = 1;
                for (int k = 0; k < nodes.Length; k++)
                    if (k != j) basis *= (v - nodes[k]) / (nodes[j] - nodes[k]);
                result[j] += w * basis;
            }
        }
        return result;
    }
}
