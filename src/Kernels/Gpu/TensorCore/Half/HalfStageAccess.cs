using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// How the half kernels write a staged K-slice and read fragments of it: <see cref="SharedViewAccess"/> through an
/// ILGPU shared-memory view and plain 32-bit loads, <see cref="LdMatrixAccess"/> through <c>ldmatrix</c>.
/// </summary>
internal interface IHalfStageAccess
{
    /// <summary>The ILGPU shared view of the stage (<see cref="HalfTile.SharedWords"/> words), or an empty view where the stage lives elsewhere.</summary>
    ArrayView<uint> AllocateStage();

    /// <summary>Stores word <paramref name="word"/> of the stage.</summary>
    void Store(ArrayView<uint> shared, int word, uint value);

    /// <summary>The A fragment of the 16×16 block whose row 0, word 0 is word <paramref name="at"/> (rows <see cref="HalfTile.Pitch"/> apart).</summary>
    MmaHalfFragmentA LoadA(ArrayView<uint> shared, int at, int lane);

    /// <summary>The B fragments of two 16×8 blocks, columns from word <paramref name="at"/> and 8 columns further.</summary>
    void LoadB2(ArrayView<uint> shared, int at, int lane, out MmaHalfFragmentB first, out MmaHalfFragmentB second);
}

/// <summary>The stage in an ILGPU shared view; each lane loads its fragment words itself (lane g·4 + t: row g, word t).</summary>
internal readonly struct SharedViewAccess : IHalfStageAccess
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ArrayView<uint> AllocateStage() => SharedMemory.Allocate<uint>(HalfTile.SharedWords);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(ArrayView<uint> shared, int word, uint value) => shared[word] = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public MmaHalfFragmentA LoadA(ArrayView<uint> s, int at, int lane)
    {
        at += (lane >> 2) * HalfTile.Pitch + (lane & 3);
        return new() { A0 = s[at], A1 = s[at + 8 * HalfTile.Pitch], A2 = s[at + 4], A3 = s[at + 8 * HalfTile.Pitch + 4] };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void LoadB2(ArrayView<uint> s, int at, int lane, out MmaHalfFragmentB first, out MmaHalfFragmentB second)
    {
        at += (lane >> 2) * HalfTile.Pitch + (lane & 3);
        first = new() { B0 = s[at], B1 = s[at + 4] };
        second = new() { B0 = s[at + 8 * HalfTile.Pitch], B1 = s[at + 8 * HalfTile.Pitch + 4] };
    }
}

/// <summary>
/// The stage read with <c>ldmatrix.sync.aligned.m8n8.x4.shared.b16</c>: four 8×8 matrices of 16-bit values per
/// instruction, lane 8j + r naming the address of row r of matrix j, and lane l receiving, in register j, the word
/// (l mod 4) of row l / 4 of matrix j (PTX ISA, "ldmatrix"), which is exactly the m16n8k16 fragment layout. ILGPU 1.5.3
/// gives a kernel no shared-memory address for inline PTX, so the stage is a <c>.shared</c> array declared in the PTX
/// itself (<see cref="Declaration"/>, emitted unconditionally as the kernel's first statement: a symbol must be declared
/// before its first use in the text, and a declaration under a branch lands wherever ILGPU places that block), written
/// with <c>st.shared</c> and addressed by its symbol. CUDA only: every member is inline PTX.
/// </summary>
internal readonly struct LdMatrixAccess : IHalfStageAccess
{
    /// <summary>The stage array, 16-byte aligned: every ldmatrix row (80-byte rows, words 0 or 4) starts on a 16-byte boundary.</summary>
    public const string Declaration = ".shared .align 16 .b32 dk_half_stage[2560];"; // HalfTile.SharedWords

    /// <summary>None: the stage is the PTX-declared array (an ILGPU allocation here would double the shared memory).</summary>
    public ArrayView<uint> AllocateStage() => default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(ArrayView<uint> shared, int word, uint value)
    {
        Input<uint> offset = (uint)(word * sizeof(uint)), v = value;
        CudaAsm.EmitRef("{ .reg .u32 a; mov.u32 a, dk_half_stage; add.u32 a, a, %0; st.shared.u32 [a], %1; }", ref offset, ref v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public MmaHalfFragmentA LoadA(ArrayView<uint> shared, int at, int lane)
    {
        X4(LdMatrixRows.A(at, lane), out uint r0, out uint r1, out uint r2, out uint r3);
        return new() { A0 = r0, A1 = r1, A2 = r2, A3 = r3 };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void LoadB2(ArrayView<uint> shared, int at, int lane, out MmaHalfFragmentB first, out MmaHalfFragmentB second)
    {
        X4(LdMatrixRows.B2(at, lane), out uint r0, out uint r1, out uint r2, out uint r3);
        first = new() { B0 = r0, B1 = r1 };
        second = new() { B0 = r2, B1 = r3 };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void X4(int rowWord, out uint r0, out uint r1, out uint r2, out uint r3)
    {
        Output<uint> o0 = default, o1 = default, o2 = default, o3 = default;
        Input<uint> offset = (uint)(rowWord * sizeof(uint));
        CudaAsm.EmitRef("{ .reg .u32 a; mov.u32 a, dk_half_stage; add.u32 a, a, %4; ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [a]; }",
            ref o0, ref o1, ref o2, ref o3, ref offset);
        r0 = o0.Value; r1 = o1.Value; r2 = o2.Value; r3 = o3.Value;
    }
}

/// <summary>
/// <see cref="LdMatrixAccess"/>'s reads, emulated fragment-exactly on an ILGPU shared view (for accelerators without
/// inline PTX): each lane names the same row address it would give <c>ldmatrix</c>, and lane l takes, for register j,
/// the address named by lane 8j + l / 4 (a warp shuffle) and reads word l mod 4 of that row.
/// </summary>
internal readonly struct LdMatrixEmulationAccess : IHalfStageAccess
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ArrayView<uint> AllocateStage() => SharedMemory.Allocate<uint>(HalfTile.SharedWords);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(ArrayView<uint> shared, int word, uint value) => shared[word] = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public MmaHalfFragmentA LoadA(ArrayView<uint> shared, int at, int lane)
    {
        X4(shared, LdMatrixRows.A(at, lane), lane, out uint r0, out uint r1, out uint r2, out uint r3);
        return new() { A0 = r0, A1 = r1, A2 = r2, A3 = r3 };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void LoadB2(ArrayView<uint> shared, int at, int lane, out MmaHalfFragmentB first, out MmaHalfFragmentB second)
    {
        X4(shared, LdMatrixRows.B2(at, lane), lane, out uint r0, out uint r1, out uint r2, out uint r3);
        first = new() { B0 = r0, B1 = r1 };
        second = new() { B0 = r2, B1 = r3 };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void X4(ArrayView<uint> shared, int rowWord, int lane, out uint r0, out uint r1, out uint r2, out uint r3)
    {
        int word = lane & 3, row = lane >> 2;
        r0 = shared[Warp.Shuffle(rowWord, row) + word];
        r1 = shared[Warp.Shuffle(rowWord, 8 + row) + word];
        r2 = shared[Warp.Shuffle(rowWord, 16 + row) + word];
        r3 = shared[Warp.Shuffle(rowWord, 24 + row) + word];
    }
}

/// <summary>The row each lane names to <c>ldmatrix</c> .x4 for the half tiles' fragments.</summary>
internal static class LdMatrixRows
{
    /// <summary>
    /// A 16×16 block at word <paramref name="at"/>: matrix 0 rows 0–7 words 0–3 (a0), 1 rows 8–15 (a1), 2 rows 0–7
    /// words 4–7 (a2), 3 rows 8–15 words 4–7 (a3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int A(int at, int lane)
    {
        int matrix = lane >> 3;
        return at + ((lane & 7) + 8 * (matrix & 1)) * HalfTile.Pitch + 4 * (matrix >> 1);
    }

    /// <summary>Two 16×8 B blocks at word <paramref name="at"/>: matrix 0 columns 0–7 words 0–3 (b0), 1 words 4–7 (b1), 2 and 3 the same for columns 8–15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int B2(int at, int lane)
    {
        int matrix = lane >> 3;
        return at + ((lane & 7) + 8 * (matrix >> 1)) * HalfTile.Pitch + 4 * (matrix & 1);
    }
}
