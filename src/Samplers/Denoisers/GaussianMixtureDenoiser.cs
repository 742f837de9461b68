using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Denoisers;

/// <summary>
/// The exact denoiser of a Gaussian mixture Σ_k π_k N(μ_k, s_k² I) (μ_k a per-pixel image): under x = x₀ + σε,
/// E[x₀ | x] = Σ_k r_k(x) (s_k² x + σ² μ_k)/(s_k² + σ²) with responsibilities r_k ∝ π_k N(x; μ_k, (s_k² + σ²) I).
/// Distances are reduced on the backend; only B×K scalars come to the host per call. Lets anyone measure a
/// solver's true error.
/// </summary>
/// <remarks>Thread safety: one caller at a time (see <see cref="IDenoiser"/>).</remarks>
public sealed class GaussianMixtureDenoiser : IDenoiser, IDisposable
{
    private readonly Tensor[] _means;
    private readonly double[] _logWeights, _variances;
    private Tensor? _diff, _stats;
    private int _batch;

    /// <summary>A mixture of <paramref name="weights"/>.Length components; each mean is a scalar or one value per element of <paramref name="sampleShape"/>; weights are normalized.</summary>
    /// <exception cref="ArgumentException">The counts disagree, a weight or std is not positive, or a mean has the wrong length.</exception>
    public GaussianMixtureDenoiser(Backend backend, int[] sampleShape, double[] weights, float[][] means, double[] stds, double sigmaMin = 0.002, double sigmaMax = 80)
    {
        if (weights.Length == 0 || weights.Length != means.Length || weights.Length != stds.Length)
            throw new ArgumentException($"gaussian mixture: {weights.Length} weights, {means.Length} means and {stds.Length} stds must agree and be non-empty");
        if (weights.Any(w => !(w > 0)) || stds.Any(s => !(s > 0))) throw new ArgumentException("gaussian mixture: weights and stds must be positive");
        Backend = backend;
        SampleShape = sampleShape;
        Dimension = sampleShape.Aggregate(1, (a, b) => a * b);
        double total = weights.Sum();
        _logWeights = weights.Select(w => Math.Log(w / total)).ToArray();
        _variances = stds.Select(s => s * s).ToArray();
        Weights = weights.Select(w => w / total).ToArray();
        Stds = stds;
        Means = means.Select(m => m.Length == 1 ? Enumerable.Repeat(m[0], Dimension).ToArray() : m.Length == Dimension ? m
            : throw new ArgumentException($"gaussian mixture: a mean must be a scalar or have {Dimension} values, found {m.Length}")).ToArray();
        _means = Means.Select(m => backend.Upload(m, new Shape([1, .. sampleShape]))).ToArray();
        (SigmaMin, SigmaMax) = (sigmaMin, sigmaMax);
    }

    /// <inheritdoc/>
    public Backend Backend { get; }
    /// <inheritdoc/>
    public int[] SampleShape { get; }
    /// <summary>Elements per sample (the product of <see cref="SampleShape"/>).</summary>
    public int Dimension { get; }
    /// <summary>The mixture weights π_k, normalized to sum to 1.</summary>
    public double[] Weights { get; }
    /// <summary>The means μ_k, one value per sample element.</summary>
    public float[][] Means { get; }
    /// <summary>The standard deviations s_k.</summary>
    public double[] Stds { get; }
    /// <inheritdoc/>
    public double SigmaMin { get; }
    /// <inheritdoc/>
    public double SigmaMax { get; }
    /// <inheritdoc/>
    public int Evaluations { get; private set; }

    /// <inheritdoc/>
    public void Denoise(Tensor x, double sigma, Tensor denoised)
    {
        int b = x.Shape[0], k = _means.Length;
        EnsureScratch(b);
        double s2 = sigma * sigma;
        var logR = new double[b * k];
        var mean = new float[b];
        var std = new float[b];
        for (int c = 0; c < k; c++)
        {
            // ‖x − μ_c‖² = n·(std² + mean²) of the difference, per sample.
            for (int n = 0; n < b; n++) Backend.Axpby(1f, x.Slice0(n, 1), -1f, _means[c], _diff!.Slice0(n, 1));
            Backend.Reduce(_diff!, _stats!, Reduction.Mean);
            Backend.CopyToHost(_stats!, mean);
            Backend.Reduce(_diff!, _stats!, Reduction.Std);
            Backend.CopyToHost(_stats!, std);
            double v = _variances[c] + s2;
            for (int n = 0; n < b; n++)
            {
                double d2 = Dimension * ((double)std[n] * std[n] + (double)mean[n] * mean[n]);
                logR[n * k + c] = _logWeights[c] - 0.5 * Dimension * Math.Log(v) - 0.5 * d2 / v;
            }
        }
        // x̂₀[n] = Σ_c r_nc (s_c² x + σ² μ_c)/(s_c² + σ²) = a_n·x + Σ_c b_nc μ_c.
        var terms = new Tensor[1 + k];
        var coefficients = new float[(1 + k) * b];
        for (int n = 0; n < b; n++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < k; c++) max = Math.Max(max, logR[n * k + c]);
            double z = 0;
            for (int c = 0; c < k; c++) z += Math.Exp(logR[n * k + c] - max);
            double a = 0;
            for (int c = 0; c < k; c++)
            {
                double r = Math.Exp(logR[n * k + c] - max) / z;
                a += r * _variances[c] / (_variances[c] + s2);
                coefficients[(1 + c) * b + n] = (float)(r * s2 / (_variances[c] + s2));
            }
            coefficients[n] = (float)a;
        }
        terms[0] = x;
        for (int c = 0; c < k; c++) terms[1 + c] = _broadcast![c];
        Backend.LinearCombination(denoised, terms, coefficients);
        Evaluations++;
    }

    /// <summary>Each μ_c repeated over the batch (built once per batch size).</summary>
    private Tensor[]? _broadcast;

    private void EnsureScratch(int b)
    {
        if (_batch == b) return;
        _diff?.Dispose();
        _stats?.Dispose();
        if (_broadcast is not null) foreach (var t in _broadcast) t.Dispose();
        _diff = Backend.Allocate(new Shape([b, .. SampleShape]));
        _stats = Backend.Allocate(b);
        _broadcast = new Tensor[_means.Length];
        for (int c = 0; c < _means.Length; c++)
        {
            _broadcast[c] = Backend.Allocate(new Shape([b, .. SampleShape]));
            for (int n = 0; n < b; n++) Backend.Copy(_means[c], _broadcast[c].Slice0(n, 1));
        }
        _batch = b;
    }

    /// <summary>Exact samples of the data distribution (for tests and baselines): [n, ...shape].</summary>
    public float[] SampleData(int n, int seed)
    {
        var rng = new Random(seed);
        var data = new float[n * Dimension];
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble(), acc = 0;
            int c = 0;
            for (; c < Weights.Length - 1; c++) { acc += Weights[c]; if (u < acc) break; }
            for (int d = 0; d < Dimension; d++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                data[i * Dimension + d] = (float)(Means[c][d] + Stds[c] * g);
            }
        }
        return data;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var m in _means) m.Dispose();
        _diff?.Dispose();
        _stats?.Dispose();
        if (_broadcast is not null) foreach (var t in _broadcast) t.Dispose();
    }
}
