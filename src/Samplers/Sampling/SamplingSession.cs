using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Sampling;

/// <summary>
/// A <see cref="SampleRunner"/> run that the caller steps (<see cref="SampleRunner.Begin(DiffusionModel, Solvers.Solver, double[], int, SamplerOptions, ReadOnlySpan{float}, Action{RunProgress}?, bool)"/>):
/// the samples are drawn in batches, each batch one solver or scheduler loop (<see cref="SamplerRun"/>), and every
/// <see cref="Step"/> takes one step of the current batch, starting the next batch when one ends. Between steps
/// <see cref="Current"/> gives x, x̂₀, σ and the timestep; x may be edited; <see cref="Stop"/> ends the run with the
/// samples so far. <see cref="Finish"/> takes the remaining steps and returns the samples, bit for bit those of
/// <c>SampleRunner.Draw</c> with the same arguments when nothing was edited.
/// </summary>
/// <remarks>
/// Thread safety: one caller at a time (any thread, one call after another). Each step holds the model exclusively
/// (<see cref="DiffusionModel.Exclusive"/>) while it runs, so other runs on the model may interleave between steps
/// without changing this run's samples. Dispose the session to free its tensors.
/// </remarks>
public sealed class SamplingSession : IDisposable
{
    private readonly DiffusionModel _model;
    private readonly int _count, _per;
    private readonly SamplerOptions _options;
    private readonly float[]? _init, _padded;
    private readonly Tensor? _image;
    private readonly Tensor _x;
    private readonly Action<RunProgress>? _progress;
    private readonly Func<Tensor, SamplerOptions, SamplerRun> _startBatch;
    private float[] _samples;
    private SamplerRun? _run;
    private int _start;
    private bool _disposed;
    private Exception? _failure;

    internal SamplingSession(DiffusionModel model, int count, SamplerOptions options, float[]? init, Tensor? image,
        Action<RunProgress>? progress, Func<Tensor, SamplerOptions, SamplerRun> startBatch)
    {
        _model = model;
        _count = count;
        _per = model.SampleLength;
        _options = options;
        _init = init;
        _image = image;
        _progress = progress;
        _startBatch = startBatch;
        _samples = new float[(long)count * _per];
        _padded = init is null ? null : new float[model.Batch * _per];
        using (model.Exclusive()) _x = model.Backend.Allocate(new Shape([model.Batch, .. model.SampleShape]));
    }

    /// <summary>Samples the run draws (fewer come back when it is stopped).</summary>
    public int Count => _count;

    /// <summary>Samples finished in earlier batches (the current batch starts at this index).</summary>
    public int SamplesDone => _start;

    /// <summary>
    /// The current batch's state after the last step (null before the first): step, σ, timestep, evaluations, x and x̂₀,
    /// with <see cref="StepState.FirstSample"/> naming the batch. Valid until the next <see cref="Step"/>; writing x steers
    /// the rest of the batch, <see cref="StepState.Stop"/> ends the run as <see cref="Stop"/> does.
    /// </summary>
    public StepState? Current { get; private set; }

    /// <summary>Whether the run is over: every batch run, or stopped.</summary>
    public bool Finished { get; private set; }

    /// <summary>Whether the run ended early (<see cref="Stop"/>, <see cref="StepState.Stop"/>, a step callback).</summary>
    public bool Stopped { get; private set; }

    /// <summary>
    /// Takes the next step, starting the next batch when the current one has ended. Returns false, taking none, when
    /// the run is over.
    /// </summary>
    /// <exception cref="OperationCanceledException">The options' cancellation token was cancelled.</exception>
    /// <exception cref="NumericalInstabilityException">A step produced NaN or Inf (with the finite check on).</exception>
    /// <exception cref="ObjectDisposedException">The session or the model has been disposed.</exception>
    public bool Step()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var exclusive = _model.Exclusive();
        while (!Finished)
        {
            if (_run is null) _run = StartBatch();
            else RestoreBatchConditions();
            bool took;
            try
            {
                took = _run.Step();
            }
            catch (Exception e)
            {
                Finished = true;
                _failure = e;
                throw;
            }
            if (took)
            {
                Current = _run.Current;
                return true;
            }
            EndBatch();
        }
        return false;
    }

    /// <summary>
    /// Takes the remaining steps and returns the samples [count, ..sample shape] on the host (the batches run so far,
    /// the last as it stands, when the run was stopped). Calling it again returns the same array.
    /// </summary>
    /// <inheritdoc cref="Step" path="/exception"/>
    /// <exception cref="InvalidOperationException">A step failed earlier (the samples would be incomplete).</exception>
    public float[] Finish()
    {
        while (RunBatchAsGraph()) { }
        while (Step()) { }
        if (_failure is not null) throw new InvalidOperationException($"the run failed at a step ({_failure.GetType().Name}: {_failure.Message}); it has no samples to give", _failure);
        return _samples;
    }

    /// <summary>Ends the run now: the samples are those of the batches so far, the current one as it stands.</summary>
    /// <exception cref="ObjectDisposedException">The session has been disposed.</exception>
    public void Stop()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Finished) return;
        using var exclusive = _model.Exclusive();
        if (_run is null) Truncate(_start);
        else
        {
            _run.Stop();
            EndBatch();
        }
    }

    /// <summary>
    /// Called with (first sample, samples) before each batch starts, inside the model's lease: how a conditioned run sets
    /// the batch's condition images on the model once per batch.
    /// </summary>
    internal Action<int, int>? BeforeBatch { get; set; }

    /// <summary>The model's <see cref="DiffusionModel.ConditionWrites"/> once this batch's conditions were set.</summary>
    private long _conditionWrites;

    /// <summary>
    /// Another run on the model between two steps (a conditioned Generate) sets its own conditions: this batch's come
    /// back before its next step, so the session's samples do not depend on what ran in between.
    /// </summary>
    private void RestoreBatchConditions()
    {
        if (BeforeBatch is null || _model.ConditionWrites == _conditionWrites) return;
        BeforeBatch(_start, Math.Min(_model.Batch, _count - _start));
        _conditionWrites = _model.ConditionWrites;
    }

    /// <summary>
    /// Why this session's loop cannot be replayed as a graph (a stochastic solver, a diffusers scheduler), or null;
    /// set by the runner that made it.
    /// </summary>
    internal string? GraphBlocker { get; set; }

    private BatchGraph? _batchGraph;

    /// <summary>The whole-batch graph, once a batch has run through it (for tests and benchmarks).</summary>
    internal BatchGraph? BatchGraph => _batchGraph;

    /// <summary>
    /// Runs the next batch whole, as a graph replay (<see cref="Sampling.BatchGraph"/>), when the backend replays graphs at
    /// this batch size and nothing needs the host between steps: no step taken yet in the current batch, no step
    /// callback, and a loop that is the same for every batch. False, running nothing, otherwise.
    /// </summary>
    private bool RunBatchAsGraph()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var backend = _model.Backend;
        if (Finished || _run is not null || GraphBlocker is not null || _options.Callback is not null || _options.OnStep is not null
            || !backend.UsesCudaGraph(_model.Batch) || backend.GraphCapture is not { } capture) return false;
        using var exclusive = _model.Exclusive();
        _batchGraph ??= new BatchGraph(backend, capture);
        int done = _start;
        var batchOptions = PrepareBatch();
        try
        {
            _batchGraph.RunBatch(_x, options => _startBatch(_x, options), batchOptions, batchOptions.FirstSampleIndex,
                _progress is null ? null : s => _progress(new RunProgress(done, _count, s)));
        }
        catch (Exception e)
        {
            Finished = true;
            _failure = e;
            throw;
        }
        CollectBatch(stopped: false);
        return true;
    }

    /// <summary>The next batch's x (caller's latents or images, Philox noise keyed by sample index) and its loop.</summary>
    private SamplerRun StartBatch() => _startBatch(_x, PrepareBatch());

    /// <summary>Sets the next batch's conditions and x (caller's latents or images, Philox noise keyed by sample index); returns its options.</summary>
    private SamplerOptions PrepareBatch()
    {
        int batch = _model.Batch, n = Math.Min(batch, _count - _start);
        var backend = _model.Backend;
        BeforeBatch?.Invoke(_start, n);
        _conditionWrites = _model.ConditionWrites;
        if (_padded is not null)
        {
            Array.Clear(_padded);
            _init.AsSpan(_start * _per, n * _per).CopyTo(_padded);
            backend.CopyFromHost(_padded, _image ?? _x);
        }
        if (_padded is null || _image is not null) backend.RandomNormal(_x, _options.Seed, _options.FirstSampleIndex + _start);
        int done = _start;
        return _options with
        {
            FirstSampleIndex = _options.FirstSampleIndex + _start,
            Callback = _progress is null ? _options.Callback : s => { _options.Callback?.Invoke(s); _progress(new RunProgress(done, _count, s)); },
        };
    }

    /// <summary>Copies the batch's samples out and moves on; a stopped batch ends the run there.</summary>
    private void EndBatch()
    {
        var run = _run!;
        bool stopped = run.Stopped;
        run.Dispose();
        _run = null;
        CollectBatch(stopped);
    }

    /// <summary>Copies the finished batch's samples out of x and moves to the next batch.</summary>
    private void CollectBatch(bool stopped)
    {
        int n = Math.Min(_model.Batch, _count - _start);
        _x.ToArray().AsSpan(0, n * _per).CopyTo(_samples.AsSpan(_start * _per));
        _start += n;
        if (stopped) Truncate(_start);
        else if (_start >= _count) Finished = true;
    }

    private void Truncate(int samples)
    {
        if (samples < _count) _samples = _samples[..(samples * _per)];
        Stopped = true;
        Finished = true;
    }

    /// <summary>Frees the session's tensors and the current loop.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _run?.Dispose();
        _batchGraph?.Dispose();
        _x.Dispose();
        _image?.Dispose();
    }
}
