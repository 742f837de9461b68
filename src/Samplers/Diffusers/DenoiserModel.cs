using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// A σ-space <see cref="IDenoiser"/> (an analytic model such as <see cref="GaussianMixtureDenoiser"/>) seen as the network
/// a diffusers scheduler calls: the input is x_t at training timestep t (fractional t reads σ log-linearly between
/// training steps, the inverse of the σ→t map the explicit samplers use), x = x_t·√(1 + σ²) is denoised, and x̂₀ is
/// returned as the prediction type asks: ε = (x − x̂₀)/σ, v = α_t ε − σ_t x̂₀, or x̂₀.
/// </summary>
/// <remarks>Thread safety: holds scratch tensors and the denoiser, so one caller at a time.</remarks>
public sealed class DenoiserModel : IDiffusersModel, IDisposable
{
    private readonly IDenoiser _denoiser;
    private readonly double[] _logSigmas;
    private readonly Prediction _prediction;
    private Tensor? _x, _x0;

    /// <summary>Presents <paramref name="denoiser"/> to a scheduler with training timesteps from <paramref name="schedule"/> and outputs of kind <paramref name="prediction"/>.</summary>
    public DenoiserModel(IDenoiser denoiser, DiscreteSchedule schedule, Prediction prediction)
    {
        _denoiser = denoiser;
        _logSigmas = schedule.Sigmas.Select(s => Math.Log(s)).ToArray();
        _prediction = prediction;
    }

    /// <inheritdoc/>
    public Backend Backend => _denoiser.Backend;
    /// <inheritdoc/>
    public int[] SampleShape => _denoiser.SampleShape;
    /// <inheritdoc/>
    public int Evaluations => _denoiser.Evaluations;

    /// <summary>σ at a (fractional) training timestep: log σ interpolated linearly, clamped to the table.</summary>
    public double SigmaAt(double t)
    {
        if (!(t > 0)) return Math.Exp(_logSigmas[0]);
        if (t >= _logSigmas.Length - 1) return Math.Exp(_logSigmas[^1]);
        int lo = (int)Math.Floor(t);
        double w = t - lo;
        return Math.Exp(_logSigmas[lo] + w * (_logSigmas[Math.Min(lo + 1, _logSigmas.Length - 1)] - _logSigmas[lo]));
    }

    /// <inheritdoc/>
    public void Predict(Tensor input, float timestep, Tensor output)
    {
        double sigma = SigmaAt(timestep), scale = Math.Sqrt(1 + sigma * sigma), alpha = 1 / scale;
        _x ??= Backend.Allocate(input.Shape);
        _x0 ??= Backend.Allocate(input.Shape);
        Backend.Scale(input, (float)scale, _x);
        _denoiser.Denoise(_x, sigma, _x0);
        switch (_prediction)
        {
            case Prediction.Epsilon:
                Backend.LinearCombination(output, [_x, _x0], [(float)(1 / sigma), (float)(-1 / sigma)]);
                break;
            case Prediction.VPrediction: // v = α ε − σ_t x̂₀ with ε = (x − x̂₀)/σ, σ_t = σα
                Backend.LinearCombination(output, [_x, _x0], [(float)(alpha / sigma), (float)(-alpha / sigma - sigma * alpha)]);
                break;
            default:
                Backend.Copy(_x0, output);
                break;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _x?.Dispose();
        _x0?.Dispose();
    }
}
