using System.Runtime.CompilerServices;
using ILGPU;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// fp32 ↔ fp16 and fp32 ↔ bf16 in integer arithmetic, bit for bit what <c>cvt.rn.f16x2.f32</c> and
/// <c>cvt.rn.bf16x2.f32</c> produce: round to nearest, ties to even, fp16 subnormals kept, fp16 overflow to ±Inf
/// (no saturation: a value past 65504 must become non-finite, never the largest finite half), NaN stays NaN. Written
/// by hand because the kernels must run the same bits on every accelerator (<see cref="System.Half"/> does not
/// compile to a kernel); the tests check it against a double-precision definition and <see cref="System.Half"/>.
/// </summary>
internal static class HalfBits
{
    /// <summary>The fp16 bits (low 16 bits of the result) of <paramref name="x"/> rounded to nearest even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ToFp16(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        uint sign = (bits >> 16) & 0x8000u;
        uint magnitude = bits & 0x7FFFFFFFu;
        if (magnitude >= 0x7F800000u) // Inf keeps its sign; NaN becomes a quiet NaN with the top payload bits
            return sign | (magnitude == 0x7F800000u ? 0x7C00u : 0x7E00u | ((magnitude >> 13) & 0x3FFu));
        if (magnitude >= 0x477FF000u) return sign | 0x7C00u; // ≥ 65520, halfway past 65504: rounds to Inf
        if (magnitude >= 0x38800000u) // ≥ 2^-14: a normal half; rebias the exponent by 127 − 15 and round away 13 bits
            return sign | ((magnitude + 0xFFFu + ((magnitude >> 13) & 1u) - (112u << 23)) >> 13);
        if (magnitude <= 0x33000000u) return sign; // ≤ 2^-25, half the smallest subnormal: ties to the even zero
        // A subnormal half: the significand counts units of 2^-24.
        int exponent = (int)(magnitude >> 23);
        uint significand = (magnitude & 0x7FFFFFu) | 0x800000u; // value = significand · 2^(exponent − 150)
        int shift = 126 - exponent;                              // 14 … 24
        uint quotient = significand >> shift;
        uint remainder = significand & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (remainder > half || (remainder == half && (quotient & 1u) != 0)) quotient++;
        return sign | quotient; // a carry into bit 10 is the smallest normal, as it should be
    }

    /// <summary>The fp32 value of the fp16 bits in the low 16 bits of <paramref name="h"/> (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Fp16ToFloat(uint h)
    {
        uint sign = (h & 0x8000u) << 16;
        uint exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
        if (exponent == 0x1Fu) return Interop.IntAsFloat(sign | 0x7F800000u | (mantissa << 13));
        if (exponent != 0) return Interop.IntAsFloat(sign | ((exponent + 112u) << 23) | (mantissa << 13));
        // Zero or subnormal: mantissa · 2^-24, exact in fp32.
        return Interop.IntAsFloat(sign | Interop.FloatAsInt((int)mantissa * (1f / 16777216f)));
    }

    /// <summary>The bf16 bits (low 16 bits) of <paramref name="x"/> rounded to nearest even; NaN stays a (quiet) NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ToBf16(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (bits >> 16) | 0x40u;
        return (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    }

    /// <summary>The fp32 value of the bf16 bits in the low 16 bits of <paramref name="h"/> (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16ToFloat(uint h) => Interop.IntAsFloat((h & 0xFFFFu) << 16);
}
