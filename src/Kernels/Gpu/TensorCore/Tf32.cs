using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// TF32 (8-bit exponent, 10-bit mantissa) rounding, the input format of the TF32 tensor-core <c>mma</c>. On CUDA it
/// is <c>cvt.rna.tf32.f32</c>; elsewhere the same function in integer arithmetic, so the emulated kernels see the
/// bits the hardware sees.
/// </summary>
internal static class Tf32
{
    /// <summary>Low mantissa bits a TF32 value leaves zero (23 − 10).</summary>
    public const int DroppedBits = 13;

    private const uint DroppedMask = (1u << DroppedBits) - 1;

    /// <summary>
    /// <paramref name="x"/> rounded to the nearest TF32 value, ties away from zero (<c>cvt.rna.tf32.f32</c>);
    /// NaN and ±Inf pass through, values past the largest TF32 number round to ±Inf.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Round(float x)
    {
        if (CudaAsm.IsSupported)
        {
            Output<uint> rounded = default;
            Input<float> value = x;
            CudaAsm.EmitRef("cvt.rna.tf32.f32 %0, %1;", ref rounded, ref value);
            return Interop.IntAsFloat(rounded.Value);
        }
        return Interop.IntAsFloat(RoundBits(Interop.FloatAsInt(x)));
    }

    /// <summary>The bit pattern of <see cref="Round"/>: add half a TF32 ulp to the magnitude, then truncate.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint RoundBits(uint bits)
    {
        if ((bits & 0x7F800000u) == 0x7F800000u) return bits; // NaN, ±Inf
        return (bits + (1u << (DroppedBits - 1))) & ~DroppedMask;
    }

    /// <summary>
    /// What the tensor core reads of a 32-bit register in a <c>.tf32</c> operand: the low 13 mantissa bits are
    /// ignored (PTX ISA, "mma" with <c>.tf32</c>), i.e. truncation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Truncate(float x) => Interop.IntAsFloat(Interop.FloatAsInt(x) & ~DroppedMask);
}
