using System.Runtime.CompilerServices;
using ILGPU;
using static DiffusionKernels.Kernels.Gpu.TensorCoreTile;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// The 128 (M) × 128 (N) × 32 (K) tile: 256 threads, 8 warps as 2 (rows) × 4 (columns), each warp 64×32 = two
/// <see cref="WarpTile"/>s (16 <c>m16n8</c> accumulators, 64 registers). Same stage layout as <see cref="TensorCoreTile"/>
/// (k-contiguous rows <see cref="TensorCoreTile.Pitch"/> floats apart, conflict-free fragment loads), with 128 A rows and
/// 128 B columns: 36,864 bytes of static shared memory, under the 48 KB static limit. Per k-step a warp loads 4 A and 4
/// B fragments for 16 <c>mma</c> (the 64×64 tile's warps load 2 + 4 for 8): fewer shared loads per product. The fragment
/// loads are <see cref="TensorCoreTile"/>'s own (same layout, same pitch).
/// </summary>
internal static class TensorCoreTile128
{
    /// <summary>Output rows (M) and columns (N) per group.</summary>
    public const int Tile = 128;

    /// <summary>Threads per group: eight 32-lane warps.</summary>
    public const int Threads = 256;

    /// <summary>Offset of the B columns in the shared tile.</summary>
    public const int BOffset = Tile * Pitch;

    /// <summary>Floats of shared memory per group (36,864 bytes).</summary>
    public const int SharedFloats = 2 * Tile * Pitch;

    /// <summary>True when <paramref name="accelerator"/> can run these tiles (32-lane warps, 256-thread groups, the shared memory).</summary>
    public static bool Fits(ILGPU.Runtime.Accelerator accelerator) =>
        accelerator.WarpSize == WarpSize && accelerator.MaxNumThreadsPerGroup >= Threads
        && accelerator.MaxSharedMemoryPerGroup >= SharedFloats * sizeof(float);

    /// <summary>
    /// Multiplies the staged K-slice into the warp's 64×32 block: rows [warpRow, warpRow + 32) in <paramref name="top"/>,
    /// [warpRow + 32, warpRow + 64) in <paramref name="bottom"/>; 4 k-steps of 8, each 4 A and 4 B fragments and 16 <c>mma</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyStage(ArrayView<float> shared, int warpRow, int warpCol, int lane, ref WarpTile top, ref WarpTile bottom)
    {
        int g = lane >> 2, t = lane & 3;
        int aAt = (warpRow + g) * Pitch + t;
        int bAt = BOffset + (warpCol + g) * Pitch + t;
        for (int kk = 0; kk < TileK; kk += MmaTf32.K)
        {
            var b0 = TensorCoreTile.LoadB(shared, bAt + kk);
            var b1 = TensorCoreTile.LoadB(shared, bAt + kk + 8 * Pitch);
            var b2 = TensorCoreTile.LoadB(shared, bAt + kk + 16 * Pitch);
            var b3 = TensorCoreTile.LoadB(shared, bAt + kk + 24 * Pitch);
            var a0 = TensorCoreTile.LoadA(shared, aAt + kk);
            var a1 = TensorCoreTile.LoadA(shared, aAt + kk + 16 * Pitch);
            MmaTf32.Accumulate(ref top.D00, a0, b0);
            MmaTf32.Accumulate(ref top.D01, a0, b1);
            MmaTf32.Accumulate(ref top.D02, a0, b2);
            MmaTf32.Accumulate(ref top.D03, a0, b3);
            MmaTf32.Accumulate(ref top.D10, a1, b0);
            MmaTf32.Accumulate(ref top.D11, a1, b1);
            MmaTf32.Accumulate(ref top.D12, a1, b2);
            MmaTf32.Accumulate(ref top.D13, a1, b3);
            var a2 = TensorCoreTile.LoadA(shared, aAt + kk + 32 * Pitch);
            var a3 = TensorCoreTile.LoadA(shared, aAt + kk + 48 * Pitch);
            MmaTf32.Accumulate(ref bottom.D00, a2, b0);
            MmaTf32.Accumulate(ref bottom.D01, a2, b1);
            MmaTf32.Accumulate(ref bottom.D02, a2, b2);
            MmaTf32.Accumulate(ref bottom.D03, a2, b3);
            MmaTf32.Accumulate(ref bottom.D10, a3, b0);
            MmaTf32.Accumulate(ref bottom.D11, a3, b1);
            MmaTf32.Accumulate(ref bottom.D12, a3, b2);
            MmaTf32.Accumulate(ref bottom.D13, a3, b3);
        }
    }
}
