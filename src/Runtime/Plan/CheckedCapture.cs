namespace DiffusionKernels.Runtime.Plan;

/// <summary>
/// One capture of a region that must replay exactly as recorded, shared by the plan's graph (<see cref="PlanGraph"/>)
/// and a sampling batch's: the capture, then the backend's counters, which show whether the region did what a replay
/// cannot repeat (waited for the device, uploaded through the staging ring that later uploads overwrite, replaced a
/// scratch buffer).
/// </summary>
internal static class CheckedCapture
{
    /// <summary>
    /// Captures <paramref name="work"/> on <paramref name="capture"/>: the graph, or null with <paramref name="reason"/>
    /// saying why the region (named by <paramref name="region"/>, e.g. "region") cannot be replayed; the graph is then
    /// disposed. A capture the driver refuses is such a reason, not an error; errors of the run itself propagate.
    /// <paramref name="generation"/> is the backend's <see cref="Backend.ScratchGeneration"/> the graph was recorded against.
    /// </summary>
    public static IReplayableGraph? Try(Backend backend, IGraphCapture capture, Action work, string region, out string? reason, out long generation)
    {
        long waits = backend.HostSynchronizations, uploads = backend.StagedUploads;
        generation = backend.ScratchGeneration;
        IReplayableGraph graph;
        try
        {
            graph = capture.Capture(work);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or ObjectDisposedException or NumericalInstabilityException or OperationCanceledException))
        {
            // An unsupported call in the region or an old driver: the work still runs, eagerly.
            reason = $"the capture failed ({e.GetType().Name}: {e.Message})";
            return null;
        }
        reason = null;
        if (backend.HostSynchronizations != waits)
            reason = $"the captured {region} waited for the device {backend.HostSynchronizations - waits} time(s)";
        else if (backend.StagedUploads != uploads)
            reason = $"the captured {region} made {backend.StagedUploads - uploads} host upload(s), which a replay would repeat from overwritten staging memory";
        else if (backend.ScratchGeneration != generation)
            reason = $"the captured {region} replaced a scratch buffer of the backend";
        if (reason is null) return graph;
        graph.Dispose();
        return null;
    }
}
