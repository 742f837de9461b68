using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Runtime;

/// <summary>
/// Page-locked host memory that a captured graph keeps for its uploads. Uploads staged while a region is captured are
/// recorded as copies from their staging slot, and every replay copies from that slot again; the staging ring reuses
/// its slots, so a replay would read whatever was staged there later. Routed here instead, each captured upload gets a
/// slot that nothing else writes until the graph is gone, so every replay uploads what the captured run uploaded.
/// </summary>
internal sealed class KeptStaging : IDisposable
{
    private readonly PageLockedArray1D<byte> _block;
    private readonly Action _stopRouting;
    private long _head;

    internal KeptStaging(Accelerator accelerator, long bytes, Action stopRouting)
    {
        _block = accelerator.AllocatePageLocked1D<byte>(Math.Max(PinnedStaging.Alignment, bytes));
        _stopRouting = stopRouting;
    }

    /// <summary>Uploads kept so far.</summary>
    public long Uploads { get; private set; }

    /// <summary>
    /// Stages <paramref name="source"/> in the next free slot and queues its copy into <paramref name="target"/>; false,
    /// with nothing done, when the block is full (it never wraps: an earlier slot may still be read by a replay).
    /// </summary>
    public bool TryUpload<T>(AcceleratorStream stream, ReadOnlySpan<T> source, ArrayView<T> target) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(source);
        if (bytes.Length == 0) return true;
        long slot = PinnedStaging.SlotBytes(bytes.Length);
        if (_head + slot > _block.Length) return false;
        bytes.CopyTo(_block.Span.Slice((int)_head, bytes.Length));
        _block.ArrayView.SubView(_head, bytes.Length).Cast<T>().CopyTo(stream, target);
        _head += slot;
        Uploads++;
        return true;
    }

    /// <summary>Later uploads go through the staging ring again; the block stays, for the graph's replays.</summary>
    public void StopRouting() => _stopRouting();

    /// <summary>Frees the block: only once the graph that copies from it is gone and its replays have finished.</summary>
    public void Dispose()
    {
        StopRouting();
        _block.Dispose();
    }
}
