using System.Runtime.CompilerServices;
using ILGPU;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// A warp's 32×32 block of a 64×64 output tile: 2 (rows) × 4 (columns) <c>m16n8</c> accumulators, named fields
/// because ILGPU 1.5.3 does not unroll loops and a local array would live in local memory.
/// </summary>
internal struct WarpTile
{
    public MmaAccumulator D00, D01, D02, D03, D10, D11, D12, D13;

    /// <summary>
    /// Writes the raw accumulators to a row-major partial-product block (split-K workspace): lane (g, t) holds rows
    /// r, r + 8, r + 16, r + 24 and columns q, q + 1, q + 8, … q + 25, where r and q are its first row and column;
    /// elements outside <paramref name="rows"/> × <paramref name="cols"/> are skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void StorePartial(ArrayView<float> workspace, long origin, int cols, int rows, int r, int q)
    {
        StorePair(workspace, origin, cols, rows, r, q, D00); StorePair(workspace, origin, cols, rows, r, q + 8, D01);
        StorePair(workspace, origin, cols, rows, r, q + 16, D02); StorePair(workspace, origin, cols, rows, r, q + 24, D03);
        StorePair(workspace, origin, cols, rows, r + 16, q, D10); StorePair(workspace, origin, cols, rows, r + 16, q + 8, D11);
        StorePair(workspace, origin, cols, rows, r + 16, q + 16, D12); StorePair(workspace, origin, cols, rows, r + 16, q + 24, D13);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePair(ArrayView<float> w, long origin, int cols, int rows, int r, int q, MmaAccumulator d)
    {
        StoreOne(w, origin, cols, rows, r, q, d.C0);
        StoreOne(w, origin, cols, rows, r, q + 1, d.C1);
        StoreOne(w, origin, cols, rows, r + 8, q, d.C2);
        StoreOne(w, origin, cols, rows, r + 8, q + 1, d.C3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOne(ArrayView<float> w, long origin, int cols, int rows, int r, int q, float v)
    {
        if (r < rows && q < cols) w[origin + (long)r * cols + q] = v;
    }
}

/// <summary>
/// The K split of a split-K launch, passed to the kernels by value: group x works on slice x / GroupsPerSlice, K in
/// [slice·SliceK, min(K, slice·SliceK + SliceK)), and writes its raw partial tile to workspace slice
/// (SliceStride floats apart). Slices = 1 (SliceK = K) is the unsplit launch.
/// </summary>
internal struct SplitKSlices
{
    public int Slices, SliceK, GroupsPerSlice;
    public long SliceStride;
}

/// <summary>
/// The shared-memory layout and inner loop the TF32 tensor-core GEMM and convolution share. A 64 (M) × 64 (N) output
/// tile is computed by 4 warps (2 × 2, 32 × 32 each) stepping through K in slices of 32. The stage holds the A slice
/// as 64 rows of k and the B slice as 64 columns of k (both k-contiguous, <see cref="Pitch"/> floats apart), so the
/// fragment loads of a warp (lane g·4 + t reads row g, k t) fall on 32 different banks. Values are rounded to TF32
/// once, as they are stored, so fragment loads are plain shared loads. One stage: a loop of load, barrier, 4·8
/// <c>mma</c>, barrier (occupancy hides the loads; <c>cp.async</c> double buffering, as the half GEMM's
/// <see cref="HalfGemmVersion.Pipelined"/> does it through a PTX-declared array, is not done for these tiles yet).
/// </summary>
internal static class TensorCoreTile
{
    /// <summary>Output rows (M) per group.</summary>
    public const int TileM = 64;

    /// <summary>Output columns (N) per group.</summary>
    public const int TileN = 64;

    /// <summary>K per stage.</summary>
    public const int TileK = 32;

    /// <summary>Threads per group: four 32-lane warps.</summary>
    public const int Threads = 128;

    /// <summary>The warp width the fragment layouts assume.</summary>
    public const int WarpSize = 32;

    /// <summary>Floats between consecutive rows of a stage: 32 k + 4, so row g starts on bank 4g.</summary>
    public const int Pitch = TileK + 4;

    /// <summary>Floats of shared memory per group: A rows, then B columns (18,432 bytes).</summary>
    public const int SharedFloats = (TileM + TileN) * Pitch;

    /// <summary>Offset of the B columns in the shared tile.</summary>
    public const int BOffset = TileM * Pitch;

    /// <summary>True when <paramref name="accelerator"/> can run these tiles (32-lane warps, 128-thread groups, the shared memory).</summary>
    public static bool Fits(ILGPU.Runtime.Accelerator accelerator) =>
        accelerator.WarpSize == WarpSize && accelerator.MaxNumThreadsPerGroup >= Threads
        && accelerator.MaxSharedMemoryPerGroup >= SharedFloats * sizeof(float);

    /// <summary>
    /// Multiplies the staged K-slice into the warp's accumulators: 4 k-steps of 8, each 2 A and 4 B fragments and
    /// 8 <c>mma</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyStage(ArrayView<float> shared, int warpRow, int warpCol, int lane, ref WarpTile acc)
    {
        int g = lane >> 2, t = lane & 3;
        int aAt = (warpRow + g) * Pitch + t;
        int bAt = BOffset + (warpCol + g) * Pitch + t;
        for (int kk = 0; kk < TileK; kk += MmaTf32.K)
        {
            var a0 = LoadA(shared, aAt + kk);
            var a1 = LoadA(shared, aAt + kk + 16 * Pitch);
            var b0 = LoadB(shared, bAt + kk);
            var b1 = LoadB(shared, bAt + kk + 8 * Pitch);
            var b2 = LoadB(shared, bAt + kk + 16 * Pitch);
            var b3 = LoadB(shared, bAt + kk + 24 * Pitch);
            MmaTf32.Accumulate(ref acc.D00, a0, b0);
            MmaTf32.Accumulate(ref acc.D01, a0, b1);
            MmaTf32.Accumulate(ref acc.D02, a0, b2);
            MmaTf32.Accumulate(ref acc.D03, a0, b3);
            MmaTf32.Accumulate(ref acc.D10, a1, b0);
            MmaTf32.Accumulate(ref acc.D11, a1, b1);
            MmaTf32.Accumulate(ref acc.D12, a1, b2);
            MmaTf32.Accumulate(ref acc.D13, a1, b3);
        }
    }

    /// <summary>A fragment at <paramref name="at"/> = row g, k t of its 16×8 block (layout of <see cref="MmaFragmentA"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static MmaFragmentA LoadA(ArrayView<float> s, int at) => new()
    {
        A0 = s[at],
        A1 = s[at + 8 * Pitch],
        A2 = s[at + 4],
        A3 = s[at + 8 * Pitch + 4],
    };

    /// <summary>B fragment at <paramref name="at"/> = column g, k t of its 8×8 block (layout of <see cref="MmaFragmentB"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static MmaFragmentB LoadB(ArrayView<float> s, int at) => new()
    {
        B0 = s[at],
        B1 = s[at + 4],
    };
}
