using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// The F(2×2, 3×3) input and output transforms of <see cref="WinogradConv2d"/> for 8 horizontally adjacent tiles at
/// once, in AVX2 registers (one lane per tile). Scalar, each tile costs ~64 loads, adds and scattered stores per channel,
/// which is a third of the 16 GEMMs' time at 128 channels; here the same adds run 8 wide. Every lane does exactly the
/// scalar path's operations in the same order, so results are bit-identical to it.
/// </summary>
internal static unsafe class WinogradTiles8
{
    /// <summary>Whether this CPU runs the 8-tile transforms (AVX2).</summary>
    public static bool IsSupported => Avx2.IsSupported;

    /// <summary>
    /// V = Bᵀ·d·B for 8 tiles whose 4 input rows start at <paramref name="row0"/>…<paramref name="row3"/> (each readable
    /// over its first 18 floats: tile k reads columns 2k … 2k + 3), written as 16 vectors at dst + ξ·xiStride.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Input(float* row0, float* row1, float* row2, float* row3, float* dst, long xiStride)
    {
        Columns(row0, out var d00, out var d01, out var d02, out var d03);
        Columns(row1, out var d10, out var d11, out var d12, out var d13);
        Columns(row2, out var d20, out var d21, out var d22, out var d23);
        Columns(row3, out var d30, out var d31, out var d32, out var d33);
        // Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1] down the columns (over rows), then along each row.
        Row(d00 - d20, d01 - d21, d02 - d22, d03 - d23, dst, xiStride);
        Row(d10 + d20, d11 + d21, d12 + d22, d13 + d23, dst + 4 * xiStride, xiStride);
        Row(d20 - d10, d21 - d11, d22 - d12, d23 - d13, dst + 8 * xiStride, xiStride);
        Row(d10 - d30, d11 - d31, d12 - d32, d13 - d33, dst + 12 * xiStride, xiStride);
    }

    /// <summary>Tile k's four columns 2k … 2k + 3 of one input row, as four vectors over k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns(float* row, out Vector256<float> c0, out Vector256<float> c1, out Vector256<float> c2, out Vector256<float> c3)
    {
        var a = Avx.LoadVector256(row);
        var b = Avx.LoadVector256(row + 8);
        var c = Avx.LoadVector256(row + 2);
        var d = Avx.LoadVector256(row + 10);
        c0 = Even(a, b);
        c1 = Odd(a, b);
        c2 = Even(c, d);
        c3 = Odd(c, d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, float* dst, long xiStride)
    {
        Avx.Store(dst, a0 - a2);
        Avx.Store(dst + xiStride, a1 + a2);
        Avx.Store(dst + 2 * xiStride, a2 - a1);
        Avx.Store(dst + 3 * xiStride, a1 - a3);
    }

    /// <summary>
    /// One output channel of 8 tiles: y = (Aᵀ·m·A + bias + residual) · scale, where m's 16 products for tile k are
    /// m[ξ·xiStride + k]; the 2×2 outputs go to y0[0..16) (top row) and y1[0..16) (bottom row). Residual rows may be
    /// null (none) or the output rows themselves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Output(float* m, long xiStride, float bias, float* residual0, float* residual1, float* y0, float* y1, float scale)
    {
        Vector256<float> S(int xi) => Avx.LoadVector256(m + xi * xiStride);
        // Aᵀ = [1 1 1 0; 0 1 −1 −1]: rows first (4 → 2), then columns, in the scalar path's order.
        var r00 = S(0) + S(4) + S(8);
        var r10 = S(4) - S(8) - S(12);
        var r01 = S(1) + S(5) + S(9);
        var r11 = S(5) - S(9) - S(13);
        var r02 = S(2) + S(6) + S(10);
        var r12 = S(6) - S(10) - S(14);
        var r03 = S(3) + S(7) + S(11);
        var r13 = S(7) - S(11) - S(15);
        var b = Vector256.Create(bias);
        var s = Vector256.Create(scale);
        Store(r00 + r01 + r02 + b, r01 - r02 - r03 + b, residual0, y0, s);
        Store(r10 + r11 + r12 + b, r11 - r12 - r13 + b, residual1, y1, s);
    }

    /// <summary>Interleaves the left and right outputs of the 8 tiles into 16 pixels of one row, then adds and scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> left, Vector256<float> right, float* residual, float* y, Vector256<float> scale)
    {
        var lo = Avx.UnpackLow(left, right);   // l0 r0 l1 r1 | l4 r4 l5 r5
        var hi = Avx.UnpackHigh(left, right);  // l2 r2 l3 r3 | l6 r6 l7 r7
        var first = Avx.Permute2x128(lo, hi, 0x20);
        var second = Avx.Permute2x128(lo, hi, 0x31);
        if (residual is not null)
        {
            first += Avx.LoadVector256(residual);
            second += Avx.LoadVector256(residual + 8);
        }
        Avx.Store(y, first * scale);
        Avx.Store(y + 8, second * scale);
    }

    /// <summary>Elements 0, 2, …, 14 of the 16 floats a‖b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Even(Vector256<float> a, Vector256<float> b) =>
        Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();

    /// <summary>Elements 1, 3, …, 15 of the 16 floats a‖b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Odd(Vector256<float> a, Vector256<float> b) =>
        Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
}
