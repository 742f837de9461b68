using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Denoisers;

namespace DiffusionKernels.Samplers;

/// <summary>What a step reports to a progress callback.</summary>
public readonly record struct StepInfo(int Step, int Steps, double Sigma, double NextSigma, int Evaluations);

/// <summary>
/// What every solver shares: the noise keys, progress, cancellation and the finite check. A solver's own settings
/// (η, S_churn, tolerances, …) are properties of the solver (see <see cref="Solvers.Solver.Settings"/>).
/// </summary>
public sealed record SamplerOptions
{
    /// <summary>Seed of the Philox noise; sample n of a run always gets the same noise, whatever the batch split.</summary>
    public ulong Seed { get; init; }
    /// <summary>
    /// Index of the batch's first sample in the whole run (keys the noise). Given to <c>SampleRunner.Draw</c>, the index
    /// of the run's first sample: the run then draws samples k, k + 1, … of the seed.
    /// </summary>
    public long FirstSampleIndex { get; init; }
    /// <summary>Called after every step.</summary>
    public Action<StepInfo>? Callback { get; init; }
    /// <summary>Stops the run at the end of the next step when cancelled (an <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>
    /// Called after every step with the batch's x and x̂₀ (<see cref="StepState"/>), after <see cref="Callback"/>; it may edit
    /// x or stop the run (then the loop ends with a <see cref="SamplingStoppedException"/>).
    /// </summary>
    public Action<StepState>? OnStep { get; init; }
    /// <summary>Maps σ to the network timestep a step reports (<see cref="StepState.Timestep"/>); NaN is reported without it.</summary>
    public Func<double, double>? TimestepOf { get; init; }
    /// <summary>Stop with an error naming the step when the state holds NaN or Inf.</summary>
    public bool CheckFinite { get; init; } = true;

    /// <summary>
    /// Set by a session that replays whole batches as a graph (<see cref="Sampling.BatchGraph"/>): the run takes its
    /// tensors from this pool, reads its finite flags only after the run, and keeps no per-step x̂₀ copy.
    /// </summary>
    internal RunScratch? GraphScratch { get; init; }
}

/// <summary>Scratch tensors, noise and checks shared by the solver loops; everything stays on the backend.</summary>
/// <remarks>
/// The NaN/Inf check reads device-side flags every <see cref="FiniteCheckInterval"/> steps and after the last one, so a
/// failing run stops up to that many steps late; the error still names the step that produced the NaN.
/// Thread safety: the state of one sampling run; used by the thread running it.
/// </remarks>
public sealed class SamplerContext : IDisposable
{
    /// <summary>Steps between two reads of the non-finite flags (the last step is always read).</summary>
    public const int FiniteCheckInterval = NonFiniteWatch.Interval;

    private readonly List<Tensor> _scratch = [];
    private readonly NonFiniteWatch? _finite;
    private readonly Shape _shape;
    private readonly StepCapture? _capture;
    private readonly bool _keepStepState;

    /// <summary>The state of one run of <paramref name="denoiser"/> on the batch <paramref name="x"/>.</summary>
    public SamplerContext(IDenoiser denoiser, Tensor x, SamplerOptions options) : this(denoiser, x, options, keepStepState: false)
    {
    }

    /// <summary>The state of one run; with <paramref name="keepStepState"/>, each step's <see cref="StepState"/> (with x̂₀) is kept in <see cref="LastState"/> for a caller that steps the loop itself.</summary>
    internal SamplerContext(IDenoiser denoiser, Tensor x, SamplerOptions options, bool keepStepState)
    {
        Backend = denoiser.Backend;
        Options = options;
        _shape = x.Shape;
        // Only a step callback or a caller stepping the loop sees x̂₀, so only then is each step's first x̂₀ copied aside.
        _keepStepState = keepStepState;
        // A loop replayed as a graph has no caller between its steps, so it keeps no x̂₀ copy.
        if (options.GraphScratch is null && (options.OnStep is not null || keepStepState)) _capture = new StepCapture(denoiser, x.Shape);
        Denoiser = (IDenoiser?)_capture ?? denoiser;
        if (options.CheckFinite) _finite = new NonFiniteWatch(Backend, x.Shape[0], options.FirstSampleIndex, "sampling", options.GraphScratch);
    }

    /// <summary>
    /// Reads the finite flags of a run whose flags are read after it (<see cref="SamplerOptions.GraphScratch"/>), its
    /// first sample being <paramref name="firstSampleIndex"/>; nothing with the finite check off.
    /// </summary>
    /// <exception cref="NumericalInstabilityException">A step produced NaN or Inf.</exception>
    internal void ReadFiniteFlagsAfterRun(long firstSampleIndex) => _finite?.ReadAfterRun(firstSampleIndex);

    /// <summary>The denoiser the solver calls (it records x̂₀ for the step callback when there is one).</summary>
    public IDenoiser Denoiser { get; }
    /// <inheritdoc/>
    public Backend Backend { get; }
    /// <summary>The run's seed, cancellation, checks and callbacks.</summary>
    public SamplerOptions Options { get; }

    /// <summary>A scratch tensor shaped like the sample, freed with the context.</summary>
    public Tensor Like()
    {
        if (Options.GraphScratch is { } pool) return pool.Take(_shape);
        var t = Backend.Allocate(_shape);
        _scratch.Add(t);
        return t;
    }

    /// <summary>Fresh standard normal noise for <paramref name="step"/> (stream offset keyed by the step).</summary>
    public void Noise(Tensor into, int step) =>
        Backend.RandomNormal(into, Options.Seed, Options.FirstSampleIndex, (ulong)(step + 1) * (ulong)into.Shape.Stride(1));

    /// <summary>
    /// Cancellation, NaN/Inf check, the progress callback and the step callback, after step <paramref name="i"/> of
    /// <paramref name="steps"/>.
    /// </summary>
    /// <returns>What the step reports (a solver's loop yields it).</returns>
    /// <exception cref="SamplingStoppedException">The step callback asked to stop.</exception>
    public StepInfo EndStep(int i, int steps, double sigma, double next, Tensor x)
    {
        Options.Cancellation.ThrowIfCancellationRequested();
        _finite?.AfterStep(x, i, steps, sigma, next);
        var info = new StepInfo(i, steps, sigma, next, Denoiser.Evaluations);
        Options.Callback?.Invoke(info);
        if (_capture is null) return info;
        var state = new StepState(i, steps, sigma, next, Options.TimestepOf?.Invoke(sigma) ?? double.NaN, Denoiser.Evaluations,
            Options.FirstSampleIndex, x, _capture.Denoised);
        Options.OnStep?.Invoke(state);
        _capture.NextStep();
        if (state.StopRequested && !_keepStepState) throw new SamplingStoppedException(i);
        LastState = state;
        return info;
    }

    /// <summary>The state after the last step, kept for a caller that steps the loop itself (null otherwise, and before the first step).</summary>
    internal StepState? LastState { get; private set; }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in _scratch) t.Dispose();
        _finite?.Dispose();
        _capture?.Dispose();
    }
}
