namespace DiffusionKernels.Runtime.Plan;

/// <summary>
/// Replays an <see cref="ExecutionPlan"/> as a captured graph. The first run is eager (kernels compiled and loaded,
/// scratch buffers grown: work that must not happen inside a capture); the second captures the plan, instantiates the
/// graph and launches it; later runs launch it again. A plan is compiled for one shape and binds its tensors once, so
/// the graph is rebuilt (after one eager run) only when the backend replaces a scratch buffer the plan's ops use.
/// </summary>
/// <remarks>
/// A captured region must not wait for the device or upload from host memory: a wait cannot be recorded, and an
/// upload would be recorded as a copy from a staging slot that later uploads overwrite, so a replay would read stale
/// data. The capture counts both (<see cref="Backend.HostSynchronizations"/>, <see cref="Backend.StagedUploads"/>) and,
/// if either happened or the capture failed, the plan runs eagerly from then on with the reason in
/// <see cref="FallbackReason"/>.
/// </remarks>
internal sealed class PlanGraph(Backend backend, IGraphCapture capture, Action eager) : IDisposable
{
    private IReplayableGraph? _graph;
    private long _generation;
    private bool _warm;

    /// <summary>Why the plan runs eagerly although a graph was asked for, or null.</summary>
    public string? FallbackReason { get; private set; }

    /// <summary>Graphs captured so far (1 unless rebuilt).</summary>
    public int Captures { get; private set; }

    /// <summary>Runs that launched the graph.</summary>
    public long Replays { get; private set; }

    /// <summary>Queues one run of the plan: eagerly, or as a launch of its graph.</summary>
    public void Run()
    {
        if (FallbackReason is not null)
        {
            eager();
            return;
        }
        if (_graph is not null && _generation != backend.ScratchGeneration) Invalidate();
        if (_graph is null)
        {
            if (!_warm)
            {
                eager();
                _warm = true;
                return;
            }
            if (!TryCapture())
            {
                eager();
                return;
            }
        }
        _graph!.Launch();
        Replays++;
    }

    /// <summary>Drops the graph; the next run is eager and the one after captures again.</summary>
    public void Invalidate()
    {
        _graph?.Dispose();
        _graph = null;
        _warm = false;
    }

    private bool TryCapture()
    {
        _graph = CheckedCapture.Try(backend, capture, eager, "region", out string? reason, out _generation);
        if (_graph is null)
        {
            FallbackReason = reason;
            return false;
        }
        Captures++;
        return true;
    }

    public void Dispose()
    {
        _graph?.Dispose();
        _graph = null;
    }
}
