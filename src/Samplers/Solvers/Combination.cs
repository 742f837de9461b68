using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// A linear form Σ cₖ·tₖ over backend tensors, built on the host in double precision (so that the coefficients of a
/// step's terms cancel exactly before they are rounded to float) and written with one LinearCombination launch.
/// </summary>
internal sealed class Combination
{
    private readonly List<Tensor> _terms = new(Backend.MaxLinearCombinationTerms);
    private readonly List<double> _coefficients = new(Backend.MaxLinearCombinationTerms);

    /// <summary>(x − x̂₀)/σ, the ε̂ of a state and its denoised estimate.</summary>
    public static Combination Epsilon(Tensor x, Tensor denoised, double sigma) => new Combination().Add(1 / sigma, x).Add(-1 / sigma, denoised);

    /// <summary>(a − b)·scale.</summary>
    public static Combination Difference(Tensor a, Tensor b, double scale = 1) => new Combination().Add(scale, a).Add(-scale, b);

    public Combination Add(double coefficient, Tensor term)
    {
        for (int k = 0; k < _terms.Count; k++)
            if (ReferenceEquals(_terms[k], term)) { _coefficients[k] += coefficient; return this; }
        _terms.Add(term);
        _coefficients.Add(coefficient);
        return this;
    }

    public Combination Add(double scale, Combination other)
    {
        for (int k = 0; k < other._terms.Count; k++) Add(scale * other._coefficients[k], other._terms[k]);
        return this;
    }

    /// <summary>y = the form (y may be one of its terms).</summary>
    public void WriteTo(Backend backend, Tensor y)
    {
        var coefficients = new float[_coefficients.Count];
        for (int k = 0; k < coefficients.Length; k++) coefficients[k] = (float)_coefficients[k];
        backend.LinearCombination(y, _terms.ToArray(), coefficients);
    }
}
