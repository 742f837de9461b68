using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Samplers.Sampling;

/// <summary>
/// A whole batch of a sampling session (every step: the forwards, the solver's updates, the finite flags) replayed as
/// one graph, so a batch costs one launch instead of a few hundred per step. The first batch runs eagerly with its
/// tensors from a pool (kernels compiled, scratch grown, the uploads sized); the second is captured and launched; later
/// batches write their starting noise into x and launch the graph again. Only a loop whose device work is the same for
/// every batch may be replayed: a deterministic solver (no fresh noise keyed by the sample index) with no callback
/// between steps; the session checks that before asking for a graph.
/// </summary>
/// <remarks>
/// What makes the loop replayable: its tensors come from a <see cref="RunScratch"/> (same addresses every batch, nothing
/// allocated while capturing); its uploads (timesteps, coefficients, the finite flags' reset) are staged into a block
/// kept with the graph (<see cref="KeptStaging"/>), so each replay uploads the captured values; its forwards are queued
/// plainly into the capture (<see cref="Backend.CapturingSamplingRun"/>); and its finite flags are read once after each
/// batch. If the captured region waited for the device, staged through the ring, replaced a scratch buffer, or the
/// capture failed, the session runs its batches eagerly from then on, with the reason in <see cref="FallbackReason"/>.
/// </remarks>
internal sealed class BatchGraph(Backend backend, IGraphCapture capture) : IDisposable
{
    /// <summary>Slack over the first batch's staged bytes for the kept block (a few alignment slots).</summary>
    private const long KeptSlackBytes = 16 * 1024;

    private readonly RunScratch _scratch = new(backend);
    private readonly List<StepInfo> _steps = [];
    private long _stagedBytes = -1;
    private long _generation;
    private IReplayableGraph? _graph;
    private KeptStaging? _kept;
    private SamplerRun? _lastRun;

    /// <summary>Why the batches run eagerly, or null.</summary>
    public string? FallbackReason { get; private set; }

    /// <summary>Graphs captured so far.</summary>
    public int Captures { get; private set; }

    /// <summary>Batches that launched the graph.</summary>
    public long Replays { get; private set; }

    /// <summary>The pooled tensors (for tests: the first batch allocates, later ones reuse).</summary>
    internal RunScratch Scratch => _scratch;

    /// <summary>
    /// Runs one batch whose x already holds its starting noise: <paramref name="start"/> begins the batch's loop with the
    /// options it is given (it may queue work, such as scaling x by σ₀, which is then part of the graph). Reads the
    /// finite flags after the batch, naming samples from <paramref name="firstSampleIndex"/>, and reports each step to
    /// <paramref name="progress"/> once the batch has been queued.
    /// </summary>
    /// <exception cref="NumericalInstabilityException">A step produced NaN or Inf (with the finite check on).</exception>
    public void RunBatch(Tensor x, Func<SamplerOptions, SamplerRun> start, SamplerOptions options, long firstSampleIndex, Action<StepInfo>? progress)
    {
        var graphOptions = options with
        {
            GraphScratch = _scratch,
            Callback = s => _steps.Add(s),
            OnStep = null,
        };
        void Work()
        {
            _scratch.Rewind();
            _steps.Clear();
            _lastRun?.Dispose();
            _lastRun = start(graphOptions);
            _lastRun.Finish();
        }
        if (_graph is not null && _generation != backend.ScratchGeneration) DropGraph();
        // The forwards are queued plainly, in the eager batches as in the captured one, so both queue the same kernels.
        backend.CapturingSamplingRun = true;
        try
        {
            if (FallbackReason is not null || _stagedBytes < 0 || (_graph is null && !TryCapture(x, Work)))
            {
                long before = backend.StagedBytes;
                Work();
                if (_stagedBytes < 0) _stagedBytes = backend.StagedBytes - before;
            }
            else
            {
                _graph!.Launch();
                Replays++;
            }
        }
        finally
        {
            backend.CapturingSamplingRun = false;
        }
        _lastRun!.SolverContext?.ReadFiniteFlagsAfterRun(firstSampleIndex);
        if (progress is not null)
            foreach (var step in _steps) progress(step);
    }

    private bool TryCapture(Tensor x, Action work)
    {
        // A capture records without running, but a stand-in capture runs the work: x is put back afterwards so that the
        // launch (or, if the capture is refused, the eager run) starts from the batch's own noise either way.
        using var start = backend.Allocate(x.Shape);
        backend.Copy(x, start);
        _kept = backend.KeepStagedUploads(_stagedBytes + KeptSlackBytes); // none on a backend without a staging ring
        string? reason;
        try
        {
            _graph = CheckedCapture.Try(backend, capture, work, "batch", out reason, out _generation);
        }
        finally
        {
            _kept?.StopRouting();
        }
        backend.Copy(start, x);
        if (_graph is null)
        {
            _kept?.Dispose();
            _kept = null;
            FallbackReason = reason;
            return false;
        }
        Captures++;
        return true;
    }

    /// <summary>Drops the graph (a scratch buffer it reads was replaced): the next batch captures again.</summary>
    private void DropGraph()
    {
        backend.Synchronize(); // a replay still queued may read the kept uploads
        _graph?.Dispose();
        _graph = null;
        _kept?.Dispose();
        _kept = null;
    }

    public void Dispose()
    {
        if (_graph is not null) DropGraph();
        _kept?.Dispose();
        _lastRun?.Dispose();
        _scratch.Dispose();
    }
}
