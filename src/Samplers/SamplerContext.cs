using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Denoisers;

namespace DiffusionKernels.Samplers;

/// <summary>What a step reports to a progress callback.</summary>
public readonly record struct StepInfo(int Step, int Steps, double Sigma, double NextSigma, int Evaluations);

/// <summary>Options every solver understands.</summary>
public sealed record SamplerOptions
{
    /// <summary>Seed of the Philox noise; sample n of a run always gets the same noise, whatever the batch split.</summary>
    public ulong Seed { get; init; }
    /// <summary>Index of the batch's first sample in the whole run (keys the noise).</summary>
    public long FirstSampleIndex { get; init; }
    /// <summary>Ancestral noise scale (1 = full ancestral step, 0 = deterministic), for solvers that take it.</summary>
    public double? Eta { get; init; }
    /// <summary>Called after every step.</summary>
    public Action<StepInfo>? Callback { get; init; }
    public CancellationToken Cancellation { get; init; }
    /// <summary>Karras et al. (2022) stochastic churn for heun: S_churn (0 = deterministic), the σ range it applies in, and S_noise.</summary>
    public double SChurn { get; init; }
    public double STmin { get; init; }
    public double STmax { get; init; } = double.PositiveInfinity;
    public double SNoise { get; init; } = 1;
    /// <summary>Relative and absolute tolerances of adaptive solvers (rk45).</summary>
    public double Rtol { get; init; } = 1e-5;
    public double Atol { get; init; } = 1e-5;
    /// <summary>Multistep solvers drop to lower orders on the last steps (diffusers' lower_order_final).</summary>
    public bool LowerOrderFinal { get; init; } = true;
    /// <summary>Score-SDE samplers: Langevin corrector signal-to-noise ratio (null: 0.16 for pc_ve, 0.01 for pc_vp) and corrector steps per level.</summary>
    public double? Snr { get; init; }
    public int CorrectorSteps { get; init; } = 1;
    /// <summary>Annealed Langevin: steps per σ level and ε of the step size ε·σ²/σ_L² (null: 0.2·σ_L², NCSN's ratio).</summary>
    public int LangevinSteps { get; init; } = 5;
    public double? LangevinEpsilon { get; init; }
    /// <summary>Stop with an error naming the step when the state holds NaN or Inf.</summary>
    public bool CheckFinite { get; init; } = true;
}

/// <summary>Scratch tensors, noise and checks shared by the solver loops; everything stays on the backend.</summary>
/// <remarks>
/// The NaN/Inf check does not copy the state to the host every step: each step queues a device-side flag update
/// (<see cref="Backend.FlagNonFinite"/>, the first step at which each sample went non-finite), and the flags are read
/// every <see cref="FiniteCheckInterval"/> steps and after the last one. A failing run therefore stops up to that many
/// steps late, and the error still names the step that produced the NaN.
/// </remarks>
public sealed class SamplerContext : IDisposable
{
    /// <summary>Steps between two reads of the non-finite flags (the last step is always read).</summary>
    public const int FiniteCheckInterval = 8;

    private readonly List<Tensor> _scratch = [];
    private readonly Tensor _firstNonFiniteStep;
    private readonly long[] _firstNonFiniteHost;
    private readonly Dictionary<int, (int Steps, double Sigma, double Next)> _stepSigmas = [];
    private readonly Shape _shape;

    public SamplerContext(IDenoiser denoiser, Tensor x, SamplerOptions options)
    {
        Denoiser = denoiser;
        Backend = denoiser.Backend;
        Options = options;
        _shape = x.Shape;
        _firstNonFiniteHost = new long[x.Shape[0]];
        Array.Fill(_firstNonFiniteHost, long.MaxValue);
        _firstNonFiniteStep = Backend.Upload(_firstNonFiniteHost, new Shape(x.Shape[0]));
    }

    public IDenoiser Denoiser { get; }
    public Backend Backend { get; }
    public SamplerOptions Options { get; }

    /// <summary>A scratch tensor shaped like the sample, freed with the context.</summary>
    public Tensor Like()
    {
        var t = Backend.Allocate(_shape);
        _scratch.Add(t);
        return t;
    }

    /// <summary>Fresh standard normal noise for <paramref name="step"/> (stream offset keyed by the step).</summary>
    public void Noise(Tensor into, int step) =>
        Backend.RandomNormal(into, Options.Seed, Options.FirstSampleIndex, (ulong)(step + 1) * (ulong)into.Shape.Stride(1));

    /// <summary>Cancellation, NaN/Inf check and the progress callback, after step <paramref name="i"/> of <paramref name="steps"/>.</summary>
    public void EndStep(int i, int steps, double sigma, double next, Tensor x)
    {
        Options.Cancellation.ThrowIfCancellationRequested();
        if (Options.CheckFinite)
        {
            Backend.FlagNonFinite(x, _firstNonFiniteStep, i);
            _stepSigmas[i] = (steps, sigma, next);
            if ((i + 1) % FiniteCheckInterval == 0 || i + 1 >= steps) ThrowIfNonFinite();
        }
        Options.Callback?.Invoke(new StepInfo(i, steps, sigma, next, Denoiser.Evaluations));
    }

    /// <summary>Reads the flags and throws, naming the first step and sample that went non-finite, if any did.</summary>
    private void ThrowIfNonFinite()
    {
        Backend.CopyToHost(_firstNonFiniteStep, _firstNonFiniteHost);
        int worst = -1;
        for (int n = 0; n < _firstNonFiniteHost.Length; n++)
            if (_firstNonFiniteHost[n] != long.MaxValue && (worst < 0 || _firstNonFiniteHost[n] < _firstNonFiniteHost[worst])) worst = n;
        if (worst < 0) return;
        int step = (int)_firstNonFiniteHost[worst];
        var (steps, sigma, next) = _stepSigmas[step];
        throw new NumericalInstabilityException(
            $"sampling: step {step + 1} of {steps} (σ {sigma:G4} → {next:G4}) produced NaN/Inf values in sample {Options.FirstSampleIndex + worst}");
    }

    public void Dispose()
    {
        foreach (var t in _scratch) t.Dispose();
        _firstNonFiniteStep.Dispose();
    }
}
