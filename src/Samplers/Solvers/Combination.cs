using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// A linear form Σ cₖ·tₖ over backend tensors, built on the host in double precision (so that the coefficients of a
/// step's terms cancel exactly before they are rounded to float) and written with one LinearCombination launch.
/// A coefficient is one value for the whole batch or one per sample (the Langevin step sizes of predictor–corrector).
/// </summary>
internal sealed class Combination
{
    private readonly List<Tensor> _terms = new(Backend.MaxLinearCombinationTerms);
    /// <summary>Per term: [c] shared by the batch, or [c₀, …, c_B−1] per sample.</summary>
    private readonly List<double[]> _coefficients = new(Backend.MaxLinearCombinationTerms);

    /// <summary>(x − x̂₀)/σ, the ε̂ of a state and its denoised estimate.</summary>
    public static Combination Epsilon(Tensor x, Tensor denoised, double sigma) => new Combination().Add(1 / sigma, x).Add(-1 / sigma, denoised);

    /// <summary>(a − b)·scale.</summary>
    public static Combination Difference(Tensor a, Tensor b, double scale = 1) => new Combination().Add(scale, a).Add(-scale, b);

    public Combination Add(double coefficient, Tensor term) => Add([coefficient], term);

    /// <summary>Adds cₙ·term to sample n, one coefficient per sample.</summary>
    public Combination Add(double[] perSample, Tensor term)
    {
        for (int k = 0; k < _terms.Count; k++)
            if (ReferenceEquals(_terms[k], term)) { _coefficients[k] = Map(_coefficients[k], perSample, (a, b) => a + b); return this; }
        _terms.Add(term);
        _coefficients.Add((double[])perSample.Clone());
        return this;
    }

    public Combination Add(double scale, Combination other) => Add([scale], other);

    /// <summary>Adds sₙ·other to sample n.</summary>
    public Combination Add(double[] perSample, Combination other)
    {
        for (int k = 0; k < other._terms.Count; k++) Add(Map(perSample, other._coefficients[k], (s, c) => s * c), other._terms[k]);
        return this;
    }

    /// <summary>y = the form (y may be one of its terms).</summary>
    public void WriteTo(Backend backend, Tensor y)
    {
        int batch = y.Shape[0], width = _coefficients.Max(c => c.Length);
        if (width != 1 && width != batch) throw new InvalidOperationException($"combination: {width} per-sample coefficients for a batch of {batch}");
        var coefficients = new float[_terms.Count * width];
        for (int k = 0; k < _terms.Count; k++)
            for (int n = 0; n < width; n++)
                coefficients[k * width + n] = (float)_coefficients[k][_coefficients[k].Length == 1 ? 0 : n];
        backend.LinearCombination(y, _terms.ToArray(), coefficients);
    }

    /// <summary>f element by element, a length-1 side broadcast over the other.</summary>
    private static double[] Map(double[] a, double[] b, Func<double, double, double> f)
    {
        if (a.Length != 1 && b.Length != 1 && a.Length != b.Length) throw new InvalidOperationException($"combination: {a.Length} and {b.Length} per-sample coefficients");
        var result = new double[Math.Max(a.Length, b.Length)];
        for (int n = 0; n < result.Length; n++) result[n] = f(a[a.Length == 1 ? 0 : n], b[b.Length == 1 ? 0 : n]);
        return result;
    }
}
