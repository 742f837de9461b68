using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Denoisers;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// Fills <paramref name="into"/> with standard normal noise for the scheduler step <paramref name="step"/> (0-based call
/// index); a stochastic scheduler asks at most once per step.
/// </summary>
public delegate void NoiseSource(Tensor into, int step);

/// <summary>Scratch tensors, noise, x̂₀ post-processing and per-step checks of one scheduler run, all on the backend.</summary>
internal sealed class RunContext : IDisposable
{
    private readonly List<Tensor> _scratch = [];
    private readonly Shape _shape;
    private readonly NoiseSource? _noise;
    private readonly NonFiniteWatch? _finite;
    private readonly DynamicThresholdDenoiser.Threshold _threshold = new();

    private readonly bool _keepStepState;

    /// <summary>The state of one run; with <paramref name="keepStepState"/>, each step's <see cref="StepState"/> is kept in <see cref="LastState"/> for a caller that steps the loop itself.</summary>
    public RunContext(Backend backend, Shape shape, SamplerOptions options, NoiseSource? noise, string scheduler, bool keepStepState = false)
    {
        _keepStepState = keepStepState;
        Backend = backend;
        Options = options;
        _shape = shape;
        _noise = noise;
        if (options.CheckFinite) _finite = new NonFiniteWatch(backend, shape[0], options.FirstSampleIndex, scheduler);
    }

    public Backend Backend { get; }
    public SamplerOptions Options { get; }

    /// <summary>A scratch tensor shaped like the sample, freed with the context.</summary>
    public Tensor Like()
    {
        var t = Backend.Allocate(_shape);
        _scratch.Add(t);
        return t;
    }

    /// <summary>Standard normal noise for step <paramref name="step"/>: the caller's source, else Philox keyed by (seed, sample, step).</summary>
    public void Noise(Tensor into, int step)
    {
        if (_noise is not null) _noise(into, step);
        else Backend.RandomNormal(into, Options.Seed, Options.FirstSampleIndex, (ulong)(step + 1) * (ulong)into.Shape.Stride(1));
    }

    /// <summary>
    /// DDIM's and DDPM's x̂₀ into <paramref name="x0"/> from the model output, with √ᾱ = <paramref name="sa"/> and
    /// √(1 − ᾱ) = <paramref name="sb"/>. For ε at ᾱ = 0 (zero terminal SNR) diffusers divides (x − ε̂) by 0: ±∞, which the
    /// clip then bounds; dividing after the difference keeps that (a folded coefficient would give ∞ − ∞ = NaN).
    /// </summary>
    public void WriteX0(string prediction, Tensor sample, Tensor output, double sa, double sb, Tensor x0)
    {
        switch (prediction)
        {
            case "epsilon" when sa == 0:
                new LinearForm().Add(1, sample).Add(-sb, output).WriteTo(Backend, x0);
                Backend.Scale(x0, float.PositiveInfinity, x0);
                break;
            case "epsilon":
                new LinearForm().Add(1 / sa, sample).Add(-sb / sa, output).WriteTo(Backend, x0);
                break;
            case "v_prediction":
                new LinearForm().Add(sa, sample).Add(-sb, output).WriteTo(Backend, x0);
                break;
            default:
                Backend.Copy(output, x0);
                break;
        }
    }

    /// <summary>clip_sample: x̂₀ clamped to ±range in place.</summary>
    public void Clip(Tensor x0, double range) => Backend.Clamp(x0, (float)-range, (float)range, x0);

    /// <summary>
    /// diffusers' _threshold_sample in place: per sample s = the <paramref name="ratio"/> quantile of |x̂₀| clamped to
    /// [1, <paramref name="maxValue"/>], then x̂₀ ← clamp(x̂₀, −s, s)/s. The quantile is found on the host (the backend has
    /// no per-sample quantile); clamp and scale run on the backend.
    /// </summary>
    public void Threshold(Tensor x0, double ratio, double maxValue) => _threshold.Apply(Backend, x0, ratio, maxValue);

    /// <summary>
    /// Cancellation, the NaN/Inf check, the progress callback and the step callback (without x̂₀, which stays inside the
    /// scheduler's step) after network call <paramref name="i"/> at <paramref name="timestep"/>.
    /// </summary>
    /// <exception cref="SamplingStoppedException">The step callback asked to stop.</exception>
    public StepInfo EndStep(int i, int steps, double sigma, double next, int evaluations, Tensor x, double timestep)
    {
        Options.Cancellation.ThrowIfCancellationRequested();
        _finite?.AfterStep(x, i, steps, sigma, next);
        var info = new StepInfo(i, steps, sigma, next, evaluations);
        Options.Callback?.Invoke(info);
        if (Options.OnStep is null && !_keepStepState) return info;
        var state = new StepState(i, steps, sigma, next, timestep, evaluations, Options.FirstSampleIndex, x, denoised: null);
        Options.OnStep?.Invoke(state);
        if (state.StopRequested && !_keepStepState) throw new SamplingStoppedException(i);
        LastState = state;
        return info;
    }

    /// <summary>The state after the last step, kept for a caller that steps the loop itself.</summary>
    public StepState? LastState { get; private set; }

    public void Dispose()
    {
        foreach (var t in _scratch) t.Dispose();
        _finite?.Dispose();
    }
}
