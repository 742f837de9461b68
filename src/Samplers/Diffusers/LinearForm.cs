using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// Σ cₖ·tₖ over backend tensors: coefficients collected in double (terms of one tensor merge before rounding to float)
/// and written with one LinearCombination launch. A scheduler's update is one such form over the sample, the model
/// outputs it keeps and the noise.
/// </summary>
internal sealed class LinearForm
{
    private readonly List<Tensor> _terms = new(Backend.MaxLinearCombinationTerms);
    private readonly List<double> _coefficients = new(Backend.MaxLinearCombinationTerms);

    public LinearForm Add(double coefficient, Tensor term)
    {
        for (int k = 0; k < _terms.Count; k++)
            if (ReferenceEquals(_terms[k], term)) { _coefficients[k] += coefficient; return this; }
        _terms.Add(term);
        _coefficients.Add(coefficient);
        return this;
    }

    /// <summary>Adds <paramref name="scale"/> times another form.</summary>
    public LinearForm Add(double scale, LinearForm other)
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
