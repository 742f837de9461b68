using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Denoisers;

/// <summary>
/// Dynamic thresholding (Saharia et al. 2022; diffusers' <c>thresholding</c>): per sample, s = the
/// <c>dynamic_thresholding_ratio</c> quantile of |x̂₀| (torch.quantile's linear interpolation), clamped to
/// [1, <c>sample_max_value</c>]; then x̂₀ ← clamp(x̂₀, −s, s)/s. The backend has no per-sample quantile (its reductions
/// are mean, std, max |x|, non-finite count), so x̂₀ is copied to the host once per evaluation to find s; this is the
/// one sampler option that reads the state on the host. The clamp and the scaling run on the backend.
/// </summary>
/// <remarks>Thread safety: one caller at a time (see <see cref="IDenoiser"/>).</remarks>
public sealed class DynamicThresholdDenoiser : IDenoiser
{
    private readonly IDenoiser _inner;
    private readonly Threshold _threshold = new();

    /// <summary>Thresholds the x̂₀ of <paramref name="inner"/> at the <paramref name="ratio"/> quantile, with s clamped to [1, <paramref name="maxValue"/>].</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ratio"/> is outside (0, 1] or <paramref name="maxValue"/> is below 1.</exception>
    public DynamicThresholdDenoiser(IDenoiser inner, double ratio = 0.995, double maxValue = 1.0)
    {
        if (!(ratio > 0 && ratio <= 1)) throw new ArgumentOutOfRangeException(nameof(ratio), $"dynamic_thresholding_ratio must be in (0, 1], found {ratio}");
        if (!(maxValue >= 1)) throw new ArgumentOutOfRangeException(nameof(maxValue), $"sample_max_value must be ≥ 1, found {maxValue}");
        _inner = inner;
        Ratio = ratio;
        MaxValue = maxValue;
    }

    /// <summary>The quantile of |x̂₀| that sets s (<c>dynamic_thresholding_ratio</c>).</summary>
    public double Ratio { get; }
    /// <summary>The largest s (<c>sample_max_value</c>).</summary>
    public double MaxValue { get; }
    /// <inheritdoc/>
    public Backend Backend => _inner.Backend;
    /// <inheritdoc/>
    public int[] SampleShape => _inner.SampleShape;
    /// <inheritdoc/>
    public double SigmaMin => _inner.SigmaMin;
    /// <inheritdoc/>
    public double SigmaMax => _inner.SigmaMax;
    /// <inheritdoc/>
    public int Evaluations => _inner.Evaluations;

    /// <inheritdoc/>
    public void Denoise(Tensor x, double sigma, Tensor denoised)
    {
        _inner.Denoise(x, sigma, denoised);
        _threshold.Apply(Backend, denoised, Ratio, MaxValue);
    }

    /// <summary>The q-quantile of |v| with linear interpolation between order statistics (torch.quantile, numpy's default); sorts <paramref name="v"/> in place.</summary>
    public static double AbsQuantile(Span<float> v, double q)
    {
        for (int i = 0; i < v.Length; i++) v[i] = Math.Abs(v[i]);
        v.Sort();
        double position = q * (v.Length - 1);
        int lo = (int)Math.Floor(position), hi = Math.Min(lo + 1, v.Length - 1);
        return v[lo] + (position - lo) * ((double)v[hi] - v[lo]);
    }

    /// <summary>The thresholding step with its host buffers (one per run or denoiser: not shared between threads).</summary>
    internal sealed class Threshold
    {
        private float[] _host = [];
        private float[] _scale = [];

        /// <summary>x̂₀ ← clamp(x̂₀, −s, s)/s in place, s per sample as the class summary says.</summary>
        public void Apply(Backend backend, Tensor x0, double ratio, double maxValue)
        {
            if (maxValue <= 1)
            {
                // s is clamped to [1, 1]: the quantile cannot matter, and clamp/1 is a plain clamp to [−1, 1], on the device.
                backend.Clamp(x0, -1f, 1f, x0);
                return;
            }
            int batch = x0.Shape[0], per = (int)x0.Shape.Stride(1);
            if (_host.Length != batch * per) { _host = new float[batch * per]; _scale = new float[batch]; }
            backend.CopyToHost(x0, _host);
            for (int n = 0; n < batch; n++)
            {
                float s = (float)Math.Clamp(AbsQuantile(_host.AsSpan(n * per, per), ratio), 1, maxValue);
                backend.Clamp(x0.Slice0(n, 1), -s, s, x0.Slice0(n, 1));
                _scale[n] = 1 / s;
            }
            backend.LinearCombination(x0, [x0], _scale);
        }
    }
}
