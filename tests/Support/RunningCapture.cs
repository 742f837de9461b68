using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Tests.Support;

/// <summary>
/// A stand-in graph capture for machines without CUDA: it runs the work when "captured" (so the host side of the region
/// runs, as in a real capture) and again at each launch.
/// </summary>
internal sealed class RunningCapture : IGraphCapture
{
    public int Captured { get; private set; }
    public Exception? Refuse { get; set; }

    public IReplayableGraph Capture(Action work)
    {
        if (Refuse is not null) throw Refuse;
        Captured++;
        work();
        return new Graph(work);
    }

    private sealed class Graph(Action work) : IReplayableGraph
    {
        public void Launch() => work();
        public void Dispose() { }
    }
}
