using System.Runtime.CompilerServices;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Counts the kernels queued on each stream: every launch site in this folder passes its stream through
/// <see cref="Count"/>, so the count is exact (an op that queues two kernels counts two, a skipped empty launch none).
/// Execution plans read it to report launches per forward; streams are weakly keyed, so nothing outlives its stream.
/// </summary>
internal static class LaunchCounter
{
    private static readonly ConditionalWeakTable<AcceleratorStream, StrongBox<long>> Counts = [];

    /// <summary>Counts one launch on <paramref name="stream"/> and returns it, for use inside the launch call.</summary>
    public static AcceleratorStream Count(AcceleratorStream stream)
    {
        Interlocked.Increment(ref Counts.GetValue(stream, _ => new StrongBox<long>()).Value);
        return stream;
    }

    /// <summary>Kernels queued on <paramref name="stream"/> so far.</summary>
    public static long Read(AcceleratorStream stream) =>
        Counts.TryGetValue(stream, out var box) ? Interlocked.Read(ref box.Value) : 0;
}
