using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Runtime;

/// <summary>
/// Host → device copies that return at once: the data is first copied into a ring of page-locked host memory, and the
/// device copy from there is queued on the stream (an asynchronous DMA, which pageable memory would not allow). A slot
/// is reused only after the ring wraps, and wrapping waits for the stream once, so no queued copy can see its source
/// overwritten. Small copies only (timesteps, labels, per-sample coefficients); larger ones go the synchronous way.
/// </summary>
internal sealed class PinnedStaging : IDisposable
{
    /// <summary>Slot alignment in bytes.</summary>
    internal const int Alignment = 256;

    /// <summary>Bytes a slot for <paramref name="bytes"/> takes (a multiple of <see cref="Alignment"/>).</summary>
    internal static long SlotBytes(int bytes) => (bytes + Alignment - 1L) / Alignment * Alignment;

    private readonly PageLockedArray1D<byte> _ring;
    private long _head;

    /// <summary>A ring of <paramref name="bytes"/> page-locked bytes for <paramref name="accelerator"/>.</summary>
    public PinnedStaging(Accelerator accelerator, int bytes) => _ring = accelerator.AllocatePageLocked1D<byte>(bytes);

    /// <summary>Copies waiting for the stream because the ring wrapped (for tests and diagnostics).</summary>
    public int Wraps { get; private set; }

    /// <summary>Copies queued from the ring so far (a captured graph region must queue none: its replay would re-read the slot).</summary>
    public long Uploads { get; private set; }

    /// <summary>Slot bytes staged so far, through the ring or <see cref="Kept"/> (sizes a kept block for a capture).</summary>
    public long StagedBytes { get; private set; }

    /// <summary>Where uploads go instead of the ring while a region is captured (null: the ring).</summary>
    public KeptStaging? Kept { get; set; }

    /// <summary>Largest copy the ring takes, in bytes (a quarter of it, so a wrap is rare).</summary>
    public long MaxBytes => _ring.Length / 4;

    /// <summary>
    /// Stages <paramref name="source"/> and queues its copy into <paramref name="target"/> (of equal length) on
    /// <paramref name="stream"/>; false, with nothing done, when the data is larger than <see cref="MaxBytes"/>.
    /// </summary>
    public bool TryUpload<T>(AcceleratorStream stream, ReadOnlySpan<T> source, ArrayView<T> target) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(source);
        if (bytes.Length > MaxBytes) return false;
        if (bytes.Length == 0) return true;
        long slot = SlotBytes(bytes.Length);
        if (Kept is { } kept)
        {
            if (!kept.TryUpload(stream, source, target)) return false;
            StagedBytes += slot;
            return true;
        }
        if (_head + slot > _ring.Length)
        {
            stream.Synchronize(); // every copy queued from the ring has finished: it may be refilled from the start
            _head = 0;
            Wraps++;
        }
        bytes.CopyTo(_ring.Span.Slice((int)_head, bytes.Length));
        _ring.ArrayView.SubView(_head, bytes.Length).Cast<T>().CopyTo(stream, target);
        _head += slot;
        Uploads++;
        StagedBytes += slot;
        return true;
    }

    public void Dispose() => _ring.Dispose();
}
