namespace DiffusionKernels.Runtime.Backends.Cuda;

/// <summary>
/// An instantiated CUDA graph: the kernels and device copies one piece of work queued on a stream, recorded once by
/// stream capture and replayed with one <c>cuGraphLaunch</c>. The graph keeps the device pointers and kernel arguments
/// of the captured launches, so a replay reads and writes exactly the buffers the capture did.
/// </summary>
internal sealed class CudaGraph : IDisposable
{
    private nint _graph;
    private nint _exec;

    private CudaGraph(nint graph, nint exec)
    {
        _graph = graph;
        _exec = exec;
    }

    /// <summary>
    /// Captures what <paramref name="work"/> queues on <paramref name="stream"/> (nothing runs) and instantiates it. When
    /// <paramref name="work"/> throws or the capture is invalidated, the capture is ended and its graph freed before the
    /// exception (a <see cref="CudaGraphException"/> for a driver failure) reaches the caller, so the stream is usable again.
    /// </summary>
    public static CudaGraph Capture(nint stream, Action work)
    {
        CudaGraphApi.BeginCapture(stream);
        nint graph = 0;
        try
        {
            try
            {
                work();
            }
            catch
            {
                CudaGraphApi.EndCapture(stream, out graph); // ends the (likely invalidated) capture; its error is the work's
                throw;
            }
            CudaGraphApi.Check("cuStreamEndCapture", CudaGraphApi.EndCapture(stream, out graph));
            if (graph == 0) throw new CudaGraphException("cuStreamEndCapture returned no graph");
            return new CudaGraph(graph, CudaGraphApi.Instantiate(graph));
        }
        catch
        {
            CudaGraphApi.DestroyGraph(graph);
            throw;
        }
    }

    /// <summary>Queues one replay on <paramref name="stream"/>; does not wait.</summary>
    public void Launch(nint stream)
    {
        ObjectDisposedException.ThrowIf(_exec == 0, this);
        CudaGraphApi.Launch(_exec, stream);
    }

    public void Dispose()
    {
        CudaGraphApi.DestroyExec(_exec);
        CudaGraphApi.DestroyGraph(_graph);
        _exec = 0;
        _graph = 0;
    }
}
