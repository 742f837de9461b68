using DiffusionKernels.Runtime.Plan;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Runtime.Backends.Cuda;

/// <summary>
/// Stream capture on an ILGPU CUDA backend: its stream comes from <c>Accelerator.CreateStream()</c>, a
/// CU_STREAM_NON_BLOCKING stream (cuda.h: CUstream_flags_enum, 0x1), which is what capture needs (the legacy NULL stream
/// cannot be captured); the driver calls take its native handle.
/// </summary>
internal sealed class CudaStreamCapture(IlgpuBackend backend) : IGraphCapture
{
    private nint StreamHandle => ((CudaStream)backend.Stream).StreamPtr;

    public IReplayableGraph Capture(Action work)
    {
        backend.Accelerator.Bind(); // the driver calls act on the calling thread's current context
        var stream = StreamHandle;
        return new Replay(backend, CudaGraph.Capture(stream, work), stream);
    }

    private sealed class Replay(IlgpuBackend backend, CudaGraph graph, nint stream) : IReplayableGraph
    {
        public void Launch()
        {
            backend.Accelerator.Bind();
            graph.Launch(stream);
        }

        public void Dispose() => graph.Dispose();
    }
}
