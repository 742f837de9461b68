using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// One lane's share of the 16×16 (rows × k) A operand of <c>mma.m16n8k16</c> with <c>.row</c> <c>.f16</c>/<c>.bf16</c>:
/// four 32-bit registers of two 16-bit values each, the lower k in the low half. With g = lane / 4 and t = lane % 4
/// (PTX ISA "Matrix Fragments for mma.m16n8k16 with floating point type"): A0 = A[g][2t, 2t + 1],
/// A1 = A[g + 8][2t, 2t + 1], A2 = A[g][2t + 8, 2t + 9], A3 = A[g + 8][2t + 8, 2t + 9].
/// </summary>
internal struct MmaHalfFragmentA
{
    public uint A0, A1, A2, A3;
}

/// <summary>One lane's share of the 16×8 (k × columns) B operand, <c>.col</c>: B0 = B[2t, 2t + 1][g], B1 = B[2t + 8, 2t + 9][g].</summary>
internal struct MmaHalfFragmentB
{
    public uint B0, B1;
}

/// <summary>
/// A 16-bit input format of the tensor cores: how two fp32 values are rounded into one register, how a 16-bit value
/// reads as fp32, and the <c>mma</c> instruction for it. Implemented by structs so the tile code is compiled once
/// per format, with no branch on the format inside the kernels.
/// </summary>
internal interface IHalfFormat
{
    /// <summary><paramref name="lo"/> and <paramref name="hi"/> rounded to this format, <paramref name="lo"/> in bits 0–15.</summary>
    uint Pack(float lo, float hi);

    /// <summary>The 16-bit value in the low bits of <paramref name="bits"/> as fp32 (exact).</summary>
    float Widen(uint bits);

    /// <summary>The hardware instruction d = a·b + d (CUDA only).</summary>
    void Mma(ref MmaAccumulator d, in MmaHalfFragmentA a, in MmaHalfFragmentB b);
}

/// <summary>IEEE fp16 (5-bit exponent, 10-bit mantissa): <c>cvt.rn.f16x2.f32</c> and <c>mma … .f32.f16.f16.f32</c>.</summary>
internal readonly struct Fp16Format : IHalfFormat
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Pack(float lo, float hi)
    {
        if (CudaAsm.IsSupported)
        {
            // cvt.rn.f16x2.f32 d, a, b puts a in the upper half and b in the lower one.
            Output<uint> packed = default;
            Input<float> upper = hi, lower = lo;
            CudaAsm.EmitRef("cvt.rn.f16x2.f32 %0, %1, %2;", ref packed, ref upper, ref lower);
            return packed.Value;
        }
        return HalfBits.ToFp16(lo) | (HalfBits.ToFp16(hi) << 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Widen(uint bits) => HalfBits.Fp16ToFloat(bits & 0xFFFFu);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Mma(ref MmaAccumulator d, in MmaHalfFragmentA a, in MmaHalfFragmentB b)
    {
        Ref<float> d0 = d.C0, d1 = d.C1, d2 = d.C2, d3 = d.C3;
        Input<uint> a0 = a.A0, a1 = a.A1, a2 = a.A2, a3 = a.A3, b0 = b.B0, b1 = b.B1;
        CudaAsm.EmitRef(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
            ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
        d.C0 = d0.Value; d.C1 = d1.Value; d.C2 = d2.Value; d.C3 = d3.Value;
    }
}

/// <summary>bfloat16 (8-bit exponent, 7-bit mantissa): <c>cvt.rn.bf16x2.f32</c> and <c>mma … .f32.bf16.bf16.f32</c>.</summary>
internal readonly struct Bf16Format : IHalfFormat
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Pack(float lo, float hi)
    {
        if (CudaAsm.IsSupported)
        {
            Output<uint> packed = default;
            Input<float> upper = hi, lower = lo;
            CudaAsm.EmitRef("cvt.rn.bf16x2.f32 %0, %1, %2;", ref packed, ref upper, ref lower);
            return packed.Value;
        }
        return HalfBits.ToBf16(lo) | (HalfBits.ToBf16(hi) << 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Widen(uint bits) => HalfBits.Bf16ToFloat(bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Mma(ref MmaAccumulator d, in MmaHalfFragmentA a, in MmaHalfFragmentB b)
    {
        Ref<float> d0 = d.C0, d1 = d.C1, d2 = d.C2, d3 = d.C3;
        Input<uint> a0 = a.A0, a1 = a.A1, a2 = a.A2, a3 = a.A3, b0 = b.B0, b1 = b.B1;
        CudaAsm.EmitRef(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
            ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
        d.C0 = d0.Value; d.C1 = d1.Value; d.C2 = d2.Value; d.C3 = d3.Value;
    }
}

/// <summary>
/// The warp-wide 16-bit tensor-core product D = A·B + C of shape m16n8k16 with fp32 accumulation. All 32 lanes must
/// call it together. On CUDA the instruction itself; elsewhere a fragment-exact emulation: each lane fetches, by warp
/// shuffles, the registers that hold the A and B elements its four D elements need (one register carries two k), widens
/// them exactly and accumulates in fp32. Products of two fp16 or two bf16 values are exact in fp32; the hardware's
/// summation order and internal precision are unspecified, so emulated and real results agree to fp32 accumulation
/// error, not bit for bit.
/// </summary>
internal static class MmaHalf
{
    /// <summary>The reduction depth per instruction.</summary>
    public const int K = 16;

    /// <summary>d = a·b + d for this warp's fragments, in the format <typeparamref name="TFormat"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate<TFormat>(ref MmaAccumulator d, in MmaHalfFragmentA a, in MmaHalfFragmentB b)
        where TFormat : struct, IHalfFormat
    {
        if (CudaAsm.IsSupported)
        {
            default(TFormat).Mma(ref d, a, b);
            return;
        }
        Emulate<TFormat>(ref d, a, b);
    }

    /// <summary>
    /// Lane (g, t) owns D[g][2t], D[g][2t + 1], D[g + 8][2t], D[g + 8][2t + 1]. The k pair p (k = 2p, 2p + 1) of A
    /// row r sits in lane 4·(r mod 8) + p mod 4, register A0/A1 (p &lt; 4) or A2/A3 (p ≥ 4) by r ≥ 8; of B column n
    /// in lane 4·n + p mod 4, register B0 (p &lt; 4) or B1.
    /// </summary>
    private static void Emulate<TFormat>(ref MmaAccumulator d, in MmaHalfFragmentA a, in MmaHalfFragmentB b)
        where TFormat : struct, IHalfFormat
    {
        var format = default(TFormat);
        int lane = Warp.LaneIdx;
        int g = lane >> 2, t = lane & 3;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        for (int pair = 0; pair < K / 2; pair++)
        {
            bool high = pair >= 4;
            int aLane = 4 * g + (pair & 3);
            uint aTop = Warp.Shuffle(high ? a.A2 : a.A0, aLane);                      // A[g][2p, 2p + 1]
            uint aBottom = Warp.Shuffle(high ? a.A3 : a.A1, aLane);                   // A[g + 8][2p, 2p + 1]
            uint bEven = Warp.Shuffle(high ? b.B1 : b.B0, 4 * (2 * t) + (pair & 3));     // B[2p, 2p + 1][2t]
            uint bOdd = Warp.Shuffle(high ? b.B1 : b.B0, 4 * (2 * t + 1) + (pair & 3));  // B[2p, 2p + 1][2t + 1]
            float topLo = format.Widen(aTop), topHi = format.Widen(aTop >> 16);
            float bottomLo = format.Widen(aBottom), bottomHi = format.Widen(aBottom >> 16);
            float evenLo = format.Widen(bEven), evenHi = format.Widen(bEven >> 16);
            float oddLo = format.Widen(bOdd), oddHi = format.Widen(bOdd >> 16);
            s0 += topLo * evenLo + topHi * evenHi;
            s1 += topLo * oddLo + topHi * oddHi;
            s2 += bottomLo * evenLo + bottomHi * evenHi;
            s3 += bottomLo * oddLo + bottomHi * oddHi;
        }
        d.C0 += s0; d.C1 += s1; d.C2 += s2; d.C3 += s3;
    }
}
