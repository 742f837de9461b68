namespace DiffusionKernels.Runtime;

/// <summary>
/// Whether a compiled U-Net forward is replayed as a CUDA graph (<see cref="Backend.CudaGraphs"/>): recorded once by
/// stream capture, then queued with one driver call instead of one launch per kernel, which is what batch-1 sampling
/// spends its time on. A sampling run of a deterministic solver without step callbacks goes further: from its third
/// batch on, each whole batch (every step's forward and update) is one graph launch. Results are those of the eager
/// run: the graph runs the same kernels on the same buffers.
/// </summary>
public enum CudaGraphMode
{
    /// <summary>Every forward queues its kernels one by one (the default).</summary>
    Off,

    /// <summary>Forwards are replayed as CUDA graphs; only a CUDA device accepts it.</summary>
    On,

    /// <summary>
    /// Graphs on CUDA devices for plans of batch ≤ <see cref="Backend.CudaGraphAutoMaxBatch"/> (where launches, not
    /// arithmetic, bound a forward), eager elsewhere.
    /// </summary>
    Auto,
}
