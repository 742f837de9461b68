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
/// <remarks>Thread safety: the state of one sampling run; used by the thread running it.</remarks>
public sealed class SamplerContext : IDisposable
{
    private readonly List<Tensor> _scratch = [];
    private readonly Tensor _nonFinite;
    private readonly float[] _nonFiniteHost;
    private readonly Shape _shape;

    public SamplerContext(IDenoiser denoiser, Tensor x, SamplerOptions options)
    {
        Denoiser = denoiser;
        Backend = denoiser.Backend;
        Options = options;
        _shape = x.Shape;
        _nonFinite = Backend.Allocate(x.Shape[0]);
        _nonFiniteHost = new float[x.Shape[0]];
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

    /// <summary>Cancellation, NaN/Inf check and the progress callback, after step <paramref name="i"/>.</summary>
    public void EndStep(int i, int steps, double sigma, double next, Tensor x)
    {
        Options.Cancellation.ThrowIfCancellationRequested();
        if (Options.CheckFinite)
        {
            Backend.Reduce(x, _nonFinite, Reduction.NonFiniteCount);
            Backend.CopyToHost(_nonFinite, _nonFiniteHost);
            for (int n = 0; n < _nonFiniteHost.Length; n++)
                if (_nonFiniteHost[n] > 0)
                    throw new NumericalInstabilityException($"sampling: step {i + 1} of {steps} (σ {sigma:G4} → {next:G4}) produced {_nonFiniteHost[n]} NaN/Inf values in sample {Options.FirstSampleIndex + n}");
        }
        Options.Callback?.Invoke(new StepInfo(i, steps, sigma, next, Denoiser.Evaluations));
    }

    public void Dispose()
    {
        foreach (var t in _scratch) t.Dispose();
        _nonFinite.Dispose();
    }
}
