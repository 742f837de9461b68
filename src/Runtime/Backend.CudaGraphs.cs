using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// Largest batch <see cref="CudaGraphMode.Auto"/> replays as a graph. A graph saves the host's cost of each launch
    /// (a few µs, ~150–220 launches per forward), which decides a forward only while its kernels are as short as that:
    /// at batch 1–8 on the bundled and CIFAR-size models they are; published measurements of graph replay show the gain
    /// at batch 8 and none by batch ~100, where the arithmetic dominates.
    /// </summary>
    public const int CudaGraphAutoMaxBatch = 8;

    private CudaGraphMode _cudaGraphs;

    /// <summary>
    /// Whether U-Net forwards compiled on this backend (<see cref="Models.UNetPlan.Run"/>) are replayed as CUDA graphs;
    /// read at every run, so it may be changed between runs. <see cref="CudaGraphMode.Off"/> by default.
    /// </summary>
    /// <exception cref="ArgumentException"><see cref="CudaGraphMode.On"/> on a backend that cannot capture graphs (not a CUDA device, or a driver without the graph API).</exception>
    public CudaGraphMode CudaGraphs
    {
        get => _cudaGraphs;
        set
        {
            if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(nameof(value), $"unknown CUDA-graph mode {(int)value}");
            if (value == CudaGraphMode.On && GraphCapture is null)
                throw new ArgumentException($"CUDA-graph replay was asked for, but it is not available on {Name}: {GraphCaptureUnavailable}", nameof(value));
            _cudaGraphs = value;
        }
    }

    /// <summary>Whether a plan of <paramref name="batch"/> samples runs as a graph under <see cref="CudaGraphs"/>.</summary>
    internal bool UsesCudaGraph(int batch) => !CapturingSamplingRun && CudaGraphs switch
    {
        CudaGraphMode.On => true,
        CudaGraphMode.Auto => batch <= CudaGraphAutoMaxBatch && GraphCapture is not null,
        _ => false,
    };

    /// <summary>Records work queued on this backend's stream as a replayable graph, or null where that is impossible.</summary>
    internal IGraphCapture? GraphCapture => SimulatedGraphCapture ?? NativeGraphCapture;

    /// <summary>The backend's own capture (CUDA stream capture on a CUDA device); null elsewhere.</summary>
    private protected virtual IGraphCapture? NativeGraphCapture => null;

    /// <summary>
    /// A stand-in capture for tests of the replay logic on backends without CUDA (it runs the work when "captured" and
    /// again at each replay); null in normal use.
    /// </summary>
    internal IGraphCapture? SimulatedGraphCapture { get; set; }

    /// <summary>Why <see cref="GraphCapture"/> is null here.</summary>
    internal virtual string GraphCaptureUnavailable => $"{Name} is not a CUDA device";

    /// <summary>
    /// Set while a sampling batch that is replayed as a whole graph runs or is captured: its forwards are then queued
    /// plainly (into that capture) rather than as launches of their own plan graphs.
    /// </summary>
    internal bool CapturingSamplingRun { get; set; }

    /// <summary>Bytes of staged uploads so far (sizes the block <see cref="KeepStagedUploads"/> needs for a run's uploads).</summary>
    internal virtual long StagedBytes => 0;

    /// <summary>
    /// Routes the staged uploads that follow into a block of <paramref name="bytes"/> kept for a captured graph
    /// (<see cref="KeptStaging"/>) until <see cref="KeptStaging.StopRouting"/>; null where uploads are not staged.
    /// </summary>
    internal virtual KeptStaging? KeepStagedUploads(long bytes) => null;

    /// <summary>Host → device copies queued from page-locked staging memory so far (a captured region must make none).</summary>
    internal virtual long StagedUploads => 0;

    /// <summary>Bumped whenever the backend replaces an internal device buffer its ops use (a graph recorded before holds stale pointers).</summary>
    internal virtual long ScratchGeneration => 0;
}
