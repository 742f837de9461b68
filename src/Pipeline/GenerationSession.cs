using System.Diagnostics;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Sampling;

namespace DiffusionKernels;

/// <summary>
/// A <see cref="DiffusionPipeline.Generate"/> run that the app steps itself (<see cref="DiffusionPipeline.Begin"/>):
/// <see cref="Step"/> takes one solver or scheduler step, batch after batch; between steps <see cref="Current"/> gives
/// the step, σ, timestep, x and x̂₀, x may be edited (<see cref="StepState.SetX"/>) and the app may <see cref="Stop"/>;
/// <see cref="Finish"/> takes the remaining steps and returns the <see cref="GenerationResult"/>. Stepping to the end
/// without edits gives exactly <see cref="DiffusionPipeline.Generate"/>'s samples for the same request: the solver's
/// own loop runs, suspended after each step, with its multistep history, its seeded noise (keyed by seed, sample and
/// step) and its evaluations unchanged.
/// </summary>
/// <remarks>
/// Thread safety: one caller at a time (any thread, one call after another, so an async app may step from the thread
/// pool). Each step holds the pipeline while it runs; other calls on the pipeline may run between steps. Dispose the
/// session to free its tensors and let the pipeline recompile its model for other settings.
/// </remarks>
public sealed class GenerationSession : IDisposable
{
    private readonly DiffusionPipeline _pipeline;
    private readonly DiffusionModel _model;
    private readonly SamplingSession _sampling;
    private readonly bool _checkFinite;
    private readonly int _evaluations0;
    private readonly Func<int> _evaluations;
    private readonly double _startSigma;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private GenerationResult? _result;
    private bool _disposed;

    internal GenerationSession(DiffusionPipeline pipeline, DiffusionModel model, SamplingSession sampling, bool checkFinite, string sampler,
        long totalSteps, int evaluations0, Func<int> evaluations, double startSigma)
    {
        _pipeline = pipeline;
        _model = model;
        _sampling = sampling;
        _checkFinite = checkFinite;
        Sampler = sampler;
        TotalSteps = totalSteps;
        _evaluations0 = evaluations0;
        _evaluations = evaluations;
        _startSigma = startSigma;
    }

    /// <summary>The sampler that runs: a solver's registry name, or <c>diffusers ClassName</c>.</summary>
    public string Sampler { get; }

    /// <summary>Steps of the whole run (steps per batch × batches).</summary>
    public long TotalSteps { get; }

    /// <summary>Steps taken so far, over all batches.</summary>
    public long StepsDone { get; private set; }

    /// <summary>Samples finished in earlier batches; the current batch starts at this index.</summary>
    public int SamplesDone => _sampling.SamplesDone;

    /// <summary>The shape of one sample, e.g. [C, H, W].</summary>
    public IReadOnlyList<int> SampleShape => _model.SampleShape;

    /// <summary>
    /// The current batch's state after the last step (null before the first): <see cref="StepState.Step"/>,
    /// <see cref="StepState.Sigma"/>, <see cref="StepState.NextSigma"/>, <see cref="StepState.Timestep"/>, x and x̂₀ as
    /// device tensors or host copies (<see cref="StepState.CopyX"/>, <see cref="StepState.CopyDenoised"/>; x̂₀ is null on a
    /// diffusers scheduler). Valid until the next <see cref="Step"/>. <see cref="StepState.SetX"/> steers the rest of the
    /// batch; <see cref="StepState.Stop"/> ends the run as <see cref="Stop"/> does.
    /// </summary>
    public StepState? Current => _sampling.Current;

    /// <summary>Whether the run is over (every batch run, or stopped).</summary>
    public bool Finished => _sampling.Finished;

    /// <summary>Whether the run ended early.</summary>
    public bool Stopped => _sampling.Stopped;

    /// <summary>Takes the next step; false, taking none, when the run is over.</summary>
    /// <exception cref="OperationCanceledException">The run's cancellation token was cancelled.</exception>
    /// <exception cref="NumericalInstabilityException">A step produced NaN or Inf (with <see cref="GenerationRequest.CheckFinite"/>).</exception>
    /// <exception cref="ObjectDisposedException">The session or the pipeline has been disposed.</exception>
    public bool Step()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_pipeline.Gate)
        {
            if (!_sampling.Step()) return false;
            StepsDone++;
            return true;
        }
    }

    /// <summary>Ends the run now: the result holds the batches so far, the current one as it stands.</summary>
    /// <exception cref="ObjectDisposedException">The session has been disposed.</exception>
    public void Stop()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_pipeline.Gate) _sampling.Stop();
    }

    /// <summary>
    /// Takes the remaining steps and returns the result; calling it again returns the same result.
    /// <see cref="GenerationResult.Elapsed"/> is the time since <see cref="DiffusionPipeline.Begin"/>, the app's time
    /// between steps included; <see cref="GenerationResult.Evaluations"/> counts the model's evaluations since then.
    /// </summary>
    /// <exception cref="OperationCanceledException">The run's cancellation token was cancelled.</exception>
    /// <exception cref="NumericalInstabilityException">A step produced NaN or Inf, or the samples hold some (with <see cref="GenerationRequest.CheckFinite"/>).</exception>
    /// <exception cref="ObjectDisposedException">The session or the pipeline has been disposed.</exception>
    public GenerationResult Finish()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_result is not null) return _result;
        lock (_pipeline.Gate)
        {
            while (Step()) { }
            var samples = _sampling.Finish();
            int evaluations = _evaluations() - _evaluations0;
            _model.Backend.Synchronize();
            var elapsed = _clock.Elapsed;
            if (_checkFinite && samples.Any(v => !float.IsFinite(v))) throw new NumericalInstabilityException("the samples hold NaN or Inf");
            int count = samples.Length / _model.SampleLength;
            _result = new GenerationResult(samples, [count, .. _model.SampleShape], Sampler, evaluations, elapsed, Stopped,
                _startSigma, _model.Batch, _model.Backend.Name);
            return _result;
        }
    }

    /// <summary>Frees the session's tensors; the pipeline may then recompile its model for other settings.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _sampling.Dispose();
        _pipeline.SessionEnded();
    }
}
