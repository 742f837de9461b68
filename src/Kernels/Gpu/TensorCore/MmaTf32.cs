using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// One lane's share of the 16×8 (rows × k) A operand of <c>mma.m16n8k8</c> with <c>.row</c> <c>.tf32</c>. With
/// g = lane / 4 and t = lane % 4 (PTX ISA "Matrix Fragments for mma.m16n8k8", .tf32): A0 = A[g][t],
/// A1 = A[g + 8][t], A2 = A[g][t + 4], A3 = A[g + 8][t + 4].
/// </summary>
internal struct MmaFragmentA
{
    public float A0, A1, A2, A3;
}

/// <summary>
/// One lane's share of the 8×8 (k × columns) B operand, <c>.col</c> <c>.tf32</c>: B0 = B[t][g], B1 = B[t + 4][g].
/// </summary>
internal struct MmaFragmentB
{
    public float B0, B1;
}

/// <summary>
/// One lane's share of the 16×8 f32 accumulator C/D: C0 = D[g][2t], C1 = D[g][2t + 1], C2 = D[g + 8][2t],
/// C3 = D[g + 8][2t + 1].
/// </summary>
internal struct MmaAccumulator
{
    public float C0, C1, C2, C3;
}

/// <summary>
/// The warp-wide TF32 tensor-core product D = A·B + C of shape m16n8k8
/// (<c>mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32</c>). All 32 lanes of the warp must call it together.
/// On CUDA it is the instruction itself (inline PTX); on other accelerators a fragment-exact emulation: each lane
/// fetches the A and B elements its four D elements need from the lanes the ISA assigns them to (warp shuffles),
/// reads them as the hardware does (low 13 mantissa bits ignored) and accumulates in fp32. The products of two TF32
/// values are exact in fp32; the order and internal precision of the hardware's sum are not specified by the ISA, so
/// emulated and real results agree to fp32 accumulation error, not bit for bit.
/// </summary>
internal static class MmaTf32
{
    /// <summary>Rows of A and D per instruction.</summary>
    public const int M = 16;

    /// <summary>Columns of B and D per instruction.</summary>
    public const int N = 8;

    /// <summary>The reduction depth per instruction.</summary>
    public const int K = 8;

    /// <summary>d = a·b + d for this warp's fragments.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref MmaAccumulator d, in MmaFragmentA a, in MmaFragmentB b)
    {
        if (CudaAsm.IsSupported)
        {
            Ref<float> d0 = d.C0, d1 = d.C1, d2 = d.C2, d3 = d.C3;
            Input<uint> a0 = Interop.FloatAsInt(a.A0), a1 = Interop.FloatAsInt(a.A1), a2 = Interop.FloatAsInt(a.A2), a3 = Interop.FloatAsInt(a.A3);
            Input<uint> b0 = Interop.FloatAsInt(b.B0), b1 = Interop.FloatAsInt(b.B1);
            CudaAsm.EmitRef(
                "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
                ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
            d.C0 = d0.Value; d.C1 = d1.Value; d.C2 = d2.Value; d.C3 = d3.Value;
            return;
        }
        Emulate(ref d, a, b);
    }

    /// <summary>
    /// The emulation: lane (g, t) owns D[g][2t], D[g][2t + 1], D[g + 8][2t], D[g + 8][2t + 1]. A[r][k] sits in
    /// lane 4·(r mod 8) + k mod 4 (register A0/A1/A2/A3 by r ≥ 8 and k ≥ 4), B[k][n] in lane 4·n + k mod 4
    /// (register B0 for k &lt; 4, B1 otherwise).
    /// </summary>
    private static void Emulate(ref MmaAccumulator d, in MmaFragmentA a, in MmaFragmentB b)
    {
        int lane = Warp.LaneIdx;
        int g = lane >> 2, t = lane & 3;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        for (int k = 0; k < K; k++)
        {
            bool high = k >= 4;
            // Every lane offers the register that holds column k of its A rows / row k of its B column, then takes
            // the one of the lane that owns what it needs.
            float aTop = Warp.Shuffle(Tf32.Truncate(high ? a.A2 : a.A0), 4 * g + (k & 3));    // A[g][k]
            float aBottom = Warp.Shuffle(Tf32.Truncate(high ? a.A3 : a.A1), 4 * g + (k & 3)); // A[g + 8][k]
            float bEven = Warp.Shuffle(Tf32.Truncate(high ? b.B1 : b.B0), 4 * (2 * t) + (k & 3));     // B[k][2t]
            float bOdd = Warp.Shuffle(Tf32.Truncate(high ? b.B1 : b.B0), 4 * (2 * t + 1) + (k & 3));  // B[k][2t + 1]
            s0 += aTop * bEven;
            s1 += aTop * bOdd;
            s2 += aBottom * bEven;
            s3 += aBottom * bOdd;
        }
        d.C0 += s0; d.C1 += s1; d.C2 += s2; d.C3 += s3;
    }
}
