using System.Runtime.CompilerServices;
using ILGPU;
using static DiffusionKernels.Kernels.Gpu.TensorCoreTile;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// 3xTF32, fp32-accurate products on TF32 tensor cores (split-float error compensation): each operand is split as
/// v = big + small with big = tf32(v) and small = tf32(v − big), and a·b is taken as big·big' + big·small' + small·big'.
/// big carries v to 2⁻¹¹ relative, big + small to 2⁻²², so the dropped small·small' term and the splits move a product
/// by ≤ 3·2⁻²² of |a·b| (fp32's own rounding is 2⁻²⁴); the three <c>mma</c> accumulate in fp32. The stage holds the
/// plain fp32 values (<see cref="TensorCoreTile"/>'s layout); fragments are split as they are loaded.
/// </summary>
internal static class ThreeTf32
{
    /// <summary>Multiplies the staged K-slice into the warp's 32×32 accumulators with three <c>mma</c> per product block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyStage(ArrayView<float> shared, int warpRow, int warpCol, int lane, ref WarpTile acc)
    {
        int g = lane >> 2, t = lane & 3;
        int aAt = (warpRow + g) * Pitch + t;
        int bAt = BOffset + (warpCol + g) * Pitch + t;
        for (int kk = 0; kk < TileK; kk += MmaTf32.K)
        {
            LoadA(shared, aAt + kk, out var a0, out var a0Small);
            LoadA(shared, aAt + kk + 16 * Pitch, out var a1, out var a1Small);
            LoadB(shared, bAt + kk, out var b0, out var b0Small);
            LoadB(shared, bAt + kk + 8 * Pitch, out var b1, out var b1Small);
            LoadB(shared, bAt + kk + 16 * Pitch, out var b2, out var b2Small);
            LoadB(shared, bAt + kk + 24 * Pitch, out var b3, out var b3Small);
            Accumulate(ref acc.D00, a0, a0Small, b0, b0Small);
            Accumulate(ref acc.D01, a0, a0Small, b1, b1Small);
            Accumulate(ref acc.D02, a0, a0Small, b2, b2Small);
            Accumulate(ref acc.D03, a0, a0Small, b3, b3Small);
            Accumulate(ref acc.D10, a1, a1Small, b0, b0Small);
            Accumulate(ref acc.D11, a1, a1Small, b1, b1Small);
            Accumulate(ref acc.D12, a1, a1Small, b2, b2Small);
            Accumulate(ref acc.D13, a1, a1Small, b3, b3Small);
        }
    }

    /// <summary>The small cross terms first, then big·big' (the order CUTLASS's fast-fp32 mode uses).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(ref MmaAccumulator d, in MmaFragmentA big, in MmaFragmentA small, in MmaFragmentB bigB, in MmaFragmentB smallB)
    {
        MmaTf32.Accumulate(ref d, small, bigB);
        MmaTf32.Accumulate(ref d, big, smallB);
        MmaTf32.Accumulate(ref d, big, bigB);
    }

    /// <summary>big = tf32(v); the return value is small = tf32(v − big).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Split(float v, out float big)
    {
        big = Tf32.Round(v);
        return Tf32.Round(v - big);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadA(ArrayView<float> s, int at, out MmaFragmentA big, out MmaFragmentA small)
    {
        small = new MmaFragmentA
        {
            A0 = Split(s[at], out big.A0),
            A1 = Split(s[at + 8 * Pitch], out big.A1),
            A2 = Split(s[at + 4], out big.A2),
            A3 = Split(s[at + 8 * Pitch + 4], out big.A3),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadB(ArrayView<float> s, int at, out MmaFragmentB big, out MmaFragmentB small)
    {
        small = new MmaFragmentB
        {
            B0 = Split(s[at], out big.B0),
            B1 = Split(s[at + 4], out big.B1),
        };
    }
}
