using System.Runtime.CompilerServices;
using ILGPU;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>The 16-bit tensor-core formats the half kernels are compiled for.</summary>
internal enum HalfType
{
    /// <summary>IEEE fp16 (<see cref="Fp16Format"/>).</summary>
    Fp16,

    /// <summary>bfloat16 (<see cref="Bf16Format"/>).</summary>
    Bf16,
}

/// <summary>
/// The shared-memory layout and inner loop of the fp16/bf16 tensor-core GEMM and convolution: the output tile, warps
/// and accumulators of <see cref="TensorCoreTile"/> (64 × 64 per 128-thread group, 4 warps of 2 × 4 <c>m16n8</c>
/// accumulators in a <see cref="WarpTile"/>), with K slices of 32 values stored as 16 words of two 16-bit values
/// (rounded once, as they are staged, by <see cref="IHalfFormat.Pack"/>; tensors stay fp32 in memory). Rows are
/// <see cref="Pitch"/> words apart, so the fragment loads of a warp (lane g·4 + t reads row g, word t) fall on 32
/// different banks. A slice is 2 k-steps of 16, 8 <c>mma.m16n8k16</c> each.
/// </summary>
internal static class HalfTile
{
    /// <summary>K values per stage.</summary>
    public const int TileK = 32;

    /// <summary>32-bit words per stage row (two values each).</summary>
    public const int Words = TileK / 2;

    /// <summary>Words between consecutive rows: 16 + 4, so row g starts on bank 20g mod 32 and rows 0–7 cover all 32 banks.</summary>
    public const int Pitch = Words + 4;

    /// <summary>Words of shared memory per group: 64 A rows, then 64 B columns (10,240 bytes).</summary>
    public const int SharedWords = (TensorCoreTile.TileM + TensorCoreTile.TileN) * Pitch;

    /// <summary>Offset of the B columns in the shared tile.</summary>
    public const int BOffset = TensorCoreTile.TileM * Pitch;

    /// <summary>True when <paramref name="accelerator"/> can run these tiles (32-lane warps, 128-thread groups, the shared memory).</summary>
    public static bool Fits(ILGPU.Runtime.Accelerator accelerator) =>
        accelerator.WarpSize == TensorCoreTile.WarpSize && accelerator.MaxNumThreadsPerGroup >= TensorCoreTile.Threads
        && accelerator.MaxSharedMemoryPerGroup >= SharedWords * sizeof(uint);

    /// <summary>
    /// Multiplies the staged K-slice into the warp's accumulators: 2 k-steps of 16, each 2 A and 4 B fragments (read
    /// by <typeparamref name="TAccess"/>) and 8 <c>mma</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyStage<TFormat, TAccess>(ArrayView<uint> shared, int warpRow, int warpCol, int lane, ref WarpTile acc)
        where TFormat : struct, IHalfFormat
        where TAccess : struct, IHalfStageAccess
    {
        var access = default(TAccess);
        int aAt = warpRow * Pitch;
        int bAt = BOffset + warpCol * Pitch;
        for (int kw = 0; kw < Words; kw += MmaHalf.K / 2)
        {
            var a0 = access.LoadA(shared, aAt + kw, lane);
            var a1 = access.LoadA(shared, aAt + kw + 16 * Pitch, lane);
            access.LoadB2(shared, bAt + kw, lane, out var b0, out var b1);
            access.LoadB2(shared, bAt + kw + 16 * Pitch, lane, out var b2, out var b3);
            MmaHalf.Accumulate<TFormat>(ref acc.D00, a0, b0);
            MmaHalf.Accumulate<TFormat>(ref acc.D01, a0, b1);
            MmaHalf.Accumulate<TFormat>(ref acc.D02, a0, b2);
            MmaHalf.Accumulate<TFormat>(ref acc.D03, a0, b3);
            MmaHalf.Accumulate<TFormat>(ref acc.D10, a1, b0);
            MmaHalf.Accumulate<TFormat>(ref acc.D11, a1, b1);
            MmaHalf.Accumulate<TFormat>(ref acc.D12, a1, b2);
            MmaHalf.Accumulate<TFormat>(ref acc.D13, a1, b3);
        }
    }
}
