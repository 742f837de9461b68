namespace DiffusionKernels.Runtime.Plan;

/// <summary>Records the device work an action queues (without running it) as a graph that can be replayed.</summary>
internal interface IGraphCapture
{
    /// <summary>Captures what <paramref name="work"/> queues; throws, with the capture ended, when it cannot be captured.</summary>
    IReplayableGraph Capture(Action work);
}

/// <summary>A recorded graph.</summary>
internal interface IReplayableGraph : IDisposable
{
    /// <summary>Queues one replay; does not wait.</summary>
    void Launch();
}
