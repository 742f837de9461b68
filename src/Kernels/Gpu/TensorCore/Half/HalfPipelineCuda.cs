using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>Which 16-bit format the CUDA pipeline converts to and multiplies in (its PTX strings are constants per format).</summary>
internal interface IPtxHalfKind
{
    /// <summary>True for bf16, false for fp16.</summary>
    bool IsBf16 { get; }
}

/// <summary>fp16: <c>cvt.rn.f16x2.f32</c>, <c>mma … .f16.f16</c>.</summary>
internal readonly struct PtxFp16 : IPtxHalfKind
{
    public bool IsBf16 => false;
}

/// <summary>bf16: <c>cvt.rn.bf16x2.f32</c>, <c>mma … .bf16.bf16</c>.</summary>
internal readonly struct PtxBf16 : IPtxHalfKind
{
    public bool IsBf16 => true;
}

/// <summary>
/// The pipeline on CUDA, all inline PTX. <c>cp.async</c> copies into <c>dk_pipe_stage</c> and <c>ldmatrix</c> reads
/// <c>dk_half_stage</c>, both <c>.shared</c> arrays declared by the PTX (<see cref="Declaration"/>; ILGPU gives a
/// kernel no shared address), from global byte addresses passed as kernel arguments; 16-byte copies bypass L1
/// (<c>.cg</c>), 4-byte ones (<c>.ca</c>, the only choice for that size) zero-fill with a source size of 0.
/// Every asm statement takes its operands by value and returns at most one 64-bit value: ILGPU keeps
/// <c>Input</c>/<c>Output</c>/<c>Ref</c> operands in local memory, and ptxas (11.8 at least) leaves every such local
/// in a stack frame once the function holds a <c>cp.async</c>. So the accumulators live in 32 PTX registers of their
/// own (<c>dk_acc</c>, declared with the arrays), and each k-step's <c>ldmatrix</c> .x4 loads (the rows of
/// <see cref="LdMatrixRows"/>) write fragment registers of their own (<c>dk_a</c>, <c>dk_b</c>) that its 8 <c>mma</c>
/// name directly: no value leaves the asm inside the K loop. Only the epilogue reads the accumulators out (16 64-bit
/// outputs, once per thread).
/// </summary>
internal readonly struct HalfPipelineCuda<TKind> : IHalfPipelineAccess
    where TKind : struct, IPtxHalfKind
{
    /// <summary>The staging buffers (<see cref="HalfPipeline.StagingFloats"/> words, 16-byte aligned) and the accumulator registers; emitted first, with <see cref="LdMatrixAccess.Declaration"/>.</summary>
    public const string Declaration = ".shared .align 16 .b32 dk_pipe_stage[9216]; .reg .f32 dk_acc<32>; .reg .b32 dk_a<8>; .reg .b32 dk_b<8>;";

    private const string Zero = "mov.f32 dk_acc0, 0f00000000; mov.f32 dk_acc1, 0f00000000; mov.f32 dk_acc2, 0f00000000; mov.f32 dk_acc3, 0f00000000; mov.f32 dk_acc4, 0f00000000; mov.f32 dk_acc5, 0f00000000; mov.f32 dk_acc6, 0f00000000; mov.f32 dk_acc7, 0f00000000; mov.f32 dk_acc8, 0f00000000; mov.f32 dk_acc9, 0f00000000; mov.f32 dk_acc10, 0f00000000; mov.f32 dk_acc11, 0f00000000; mov.f32 dk_acc12, 0f00000000; mov.f32 dk_acc13, 0f00000000; mov.f32 dk_acc14, 0f00000000; mov.f32 dk_acc15, 0f00000000; mov.f32 dk_acc16, 0f00000000; mov.f32 dk_acc17, 0f00000000; mov.f32 dk_acc18, 0f00000000; mov.f32 dk_acc19, 0f00000000; mov.f32 dk_acc20, 0f00000000; mov.f32 dk_acc21, 0f00000000; mov.f32 dk_acc22, 0f00000000; mov.f32 dk_acc23, 0f00000000; mov.f32 dk_acc24, 0f00000000; mov.f32 dk_acc25, 0f00000000; mov.f32 dk_acc26, 0f00000000; mov.f32 dk_acc27, 0f00000000; mov.f32 dk_acc28, 0f00000000; mov.f32 dk_acc29, 0f00000000; mov.f32 dk_acc30, 0f00000000; mov.f32 dk_acc31, 0f00000000;";
    private const string Fp16KStep = "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {dk_acc0,dk_acc1,dk_acc2,dk_acc3}, {dk_a0,dk_a1,dk_a2,dk_a3}, {dk_b0,dk_b1}, {dk_acc0,dk_acc1,dk_acc2,dk_acc3}; mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {dk_acc4,dk_acc5,dk_acc6,dk_acc7}, {dk_a0,dk_a1,dk_a2,dk_a3}, {dk_b2,dk_b3}, {dk_acc4,dk_acc5,dk_acc6,dk_acc7}; mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {dk_acc8,dk_acc9,dk_acc10,dk_acc11}, {dk_a0,dk_a1,dk_a2,dk_a3}, {dk_b4,dk_b5}, {dk_acc8,dk_acc9,dk_acc10,dk_acc11}; mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {dk_acc12,dk_acc13,dk_acc14,dk_acc15}, {dk_a0,dk_a1,dk_a2,dk_a3}, {dk_b6,dk_b7}, {dk_acc12,dk_acc13,dk_acc14,dk_acc15}; mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {dk_acc16,dk_acc17,dk_acc18,dk_acc19}, {dk_a4,dk_a5,dk_a6,dk_a7}, {dk_b0,dk_b1}, {dk_acc16,dk_acc17,dk_acc18,dk_acc19}; mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {dk_acc20,dk_acc21,dk_acc22,dk_acc23}, {dk_a4,dk_a5,dk_a6,dk_a7}, {dk_b2,dk_b3}, {dk_acc20,dk_acc21,dk_acc22,dk_acc23}; mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {dk_acc24,dk_acc25,dk_acc26,dk_acc27}, {dk_a4,dk_a5,dk_a6,dk_a7}, {dk_b4,dk_b5}, {dk_acc24,dk_acc25,dk_acc26,dk_acc27}; mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {dk_acc28,dk_acc29,dk_acc30,dk_acc31}, {dk_a4,dk_a5,dk_a6,dk_a7}, {dk_b6,dk_b7}, {dk_acc28,dk_acc29,dk_acc30,dk_acc31};";
    private const string Bf16KStep = "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {dk_acc0,dk_acc1,dk_acc2,dk_acc3}, {dk_a0,dk_a1,dk_a2,dk_a3}, {dk_b0,dk_b1}, {dk_acc0,dk_acc1,dk_acc2,dk_acc3}; mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {dk_acc4,dk_acc5,dk_acc6,dk_acc7}, {dk_a0,dk_a1,dk_a2,dk_a3}, {dk_b2,dk_b3}, {dk_acc4,dk_acc5,dk_acc6,dk_acc7}; mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {dk_acc8,dk_acc9,dk_acc10,dk_acc11}, {dk_a0,dk_a1,dk_a2,dk_a3}, {dk_b4,dk_b5}, {dk_acc8,dk_acc9,dk_acc10,dk_acc11}; mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {dk_acc12,dk_acc13,dk_acc14,dk_acc15}, {dk_a0,dk_a1,dk_a2,dk_a3}, {dk_b6,dk_b7}, {dk_acc12,dk_acc13,dk_acc14,dk_acc15}; mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {dk_acc16,dk_acc17,dk_acc18,dk_acc19}, {dk_a4,dk_a5,dk_a6,dk_a7}, {dk_b0,dk_b1}, {dk_acc16,dk_acc17,dk_acc18,dk_acc19}; mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {dk_acc20,dk_acc21,dk_acc22,dk_acc23}, {dk_a4,dk_a5,dk_a6,dk_a7}, {dk_b2,dk_b3}, {dk_acc20,dk_acc21,dk_acc22,dk_acc23}; mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {dk_acc24,dk_acc25,dk_acc26,dk_acc27}, {dk_a4,dk_a5,dk_a6,dk_a7}, {dk_b4,dk_b5}, {dk_acc24,dk_acc25,dk_acc26,dk_acc27}; mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {dk_acc28,dk_acc29,dk_acc30,dk_acc31}, {dk_a4,dk_a5,dk_a6,dk_a7}, {dk_b6,dk_b7}, {dk_acc28,dk_acc29,dk_acc30,dk_acc31};";
    private const string Read0 = "mov.b64 %0, {dk_acc0, dk_acc1};";
    private const string Read1 = "mov.b64 %0, {dk_acc2, dk_acc3};";
    private const string Read2 = "mov.b64 %0, {dk_acc4, dk_acc5};";
    private const string Read3 = "mov.b64 %0, {dk_acc6, dk_acc7};";
    private const string Read4 = "mov.b64 %0, {dk_acc8, dk_acc9};";
    private const string Read5 = "mov.b64 %0, {dk_acc10, dk_acc11};";
    private const string Read6 = "mov.b64 %0, {dk_acc12, dk_acc13};";
    private const string Read7 = "mov.b64 %0, {dk_acc14, dk_acc15};";
    private const string Read8 = "mov.b64 %0, {dk_acc16, dk_acc17};";
    private const string Read9 = "mov.b64 %0, {dk_acc18, dk_acc19};";
    private const string Read10 = "mov.b64 %0, {dk_acc20, dk_acc21};";
    private const string Read11 = "mov.b64 %0, {dk_acc22, dk_acc23};";
    private const string Read12 = "mov.b64 %0, {dk_acc24, dk_acc25};";
    private const string Read13 = "mov.b64 %0, {dk_acc26, dk_acc27};";
    private const string Read14 = "mov.b64 %0, {dk_acc28, dk_acc29};";
    private const string Read15 = "mov.b64 %0, {dk_acc30, dk_acc31};";

    /// <summary>None: the buffers are the PTX-declared array.</summary>
    public ArrayView<float> AllocateStaging() => default;

    /// <summary>None: the stage is the PTX-declared array.</summary>
    public ArrayView<uint> AllocateStage() => default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Copy16(ArrayView<float> staging, int at, ArrayView<float> source, long index, long address) =>
        CudaAsm.Emit("{ .reg .u32 s; .reg .u64 g; mov.u32 s, dk_pipe_stage; add.u32 s, s, %0; cvta.to.global.u64 g, %1; cp.async.cg.shared.global [s], [g], 16; }",
            (uint)(at * sizeof(float)), address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Copy4(ArrayView<float> staging, int at, ArrayView<float> source, long index, long address, bool valid) =>
        CudaAsm.Emit("{ .reg .u32 s; .reg .u64 g; mov.u32 s, dk_pipe_stage; add.u32 s, s, %0; cvta.to.global.u64 g, %1; cp.async.ca.shared.global [s], [g], 4, %2; }",
            (uint)(at * sizeof(float)), address, valid ? 4u : 0u);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Commit() => CudaAsm.Emit("cp.async.commit_group;");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WaitAllButNewest() => CudaAsm.Emit("cp.async.wait_group 1;");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WaitAll() => CudaAsm.Emit("cp.async.wait_group 0;");

    // cvt.rn.{f16,bf16}x2.f32 d, a, b puts a in the upper half and b in the lower one.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Round(ArrayView<float> staging, int lo, int hi, ArrayView<uint> stage, int word)
    {
        uint loAt = (uint)(lo * sizeof(float)), hiAt = (uint)(hi * sizeof(float)), wordAt = (uint)(word * sizeof(uint));
        if (default(TKind).IsBf16)
            CudaAsm.Emit("{ .reg .u32 a, h; .reg .f32 x, y; .reg .b32 w; mov.u32 a, dk_pipe_stage; add.u32 h, a, %1; add.u32 a, a, %0; ld.shared.f32 x, [a]; ld.shared.f32 y, [h]; cvt.rn.bf16x2.f32 w, y, x; mov.u32 a, dk_half_stage; add.u32 a, a, %2; st.shared.u32 [a], w; }",
                loAt, hiAt, wordAt);
        else
            CudaAsm.Emit("{ .reg .u32 a, h; .reg .f32 x, y; .reg .b32 w; mov.u32 a, dk_pipe_stage; add.u32 h, a, %1; add.u32 a, a, %0; ld.shared.f32 x, [a]; ld.shared.f32 y, [h]; cvt.rn.f16x2.f32 w, y, x; mov.u32 a, dk_half_stage; add.u32 a, a, %2; st.shared.u32 [a], w; }",
                loAt, hiAt, wordAt);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Begin(ref WarpTile acc) => CudaAsm.Emit(Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Multiply(ArrayView<uint> stage, int warpRow, int warpCol, int lane, ref WarpTile acc)
    {
        int aAt = warpRow * HalfTile.Pitch, bAt = HalfTile.BOffset + warpCol * HalfTile.Pitch;
        for (int kw = 0; kw < HalfTile.Words; kw += MmaHalf.K / 2)
        {
            uint a0 = (uint)(LdMatrixRows.A(aAt + kw, lane) * sizeof(uint)), a1 = (uint)(LdMatrixRows.A(aAt + kw + 16 * HalfTile.Pitch, lane) * sizeof(uint));
            uint b01 = (uint)(LdMatrixRows.B2(bAt + kw, lane) * sizeof(uint)), b23 = (uint)(LdMatrixRows.B2(bAt + kw + 16 * HalfTile.Pitch, lane) * sizeof(uint));
            CudaAsm.Emit("{ .reg .u32 s, a; mov.u32 s, dk_half_stage; add.u32 a, s, %0; ldmatrix.sync.aligned.m8n8.x4.shared.b16 {dk_a0,dk_a1,dk_a2,dk_a3}, [a]; add.u32 a, s, %1; ldmatrix.sync.aligned.m8n8.x4.shared.b16 {dk_a4,dk_a5,dk_a6,dk_a7}, [a]; add.u32 a, s, %2; ldmatrix.sync.aligned.m8n8.x4.shared.b16 {dk_b0,dk_b1,dk_b2,dk_b3}, [a]; add.u32 a, s, %3; ldmatrix.sync.aligned.m8n8.x4.shared.b16 {dk_b4,dk_b5,dk_b6,dk_b7}, [a]; }",
                a0, a1, b01, b23);
            if (default(TKind).IsBf16) CudaAsm.Emit(Bf16KStep);
            else CudaAsm.Emit(Fp16KStep);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Finish(ref WarpTile acc)
    {
        CudaAsm.Emit(Read0, out ulong d00Low);
        CudaAsm.Emit(Read1, out ulong d00High);
        acc.D00 = Accumulator(d00Low, d00High);
        CudaAsm.Emit(Read2, out ulong d01Low);
        CudaAsm.Emit(Read3, out ulong d01High);
        acc.D01 = Accumulator(d01Low, d01High);
        CudaAsm.Emit(Read4, out ulong d02Low);
        CudaAsm.Emit(Read5, out ulong d02High);
        acc.D02 = Accumulator(d02Low, d02High);
        CudaAsm.Emit(Read6, out ulong d03Low);
        CudaAsm.Emit(Read7, out ulong d03High);
        acc.D03 = Accumulator(d03Low, d03High);
        CudaAsm.Emit(Read8, out ulong d10Low);
        CudaAsm.Emit(Read9, out ulong d10High);
        acc.D10 = Accumulator(d10Low, d10High);
        CudaAsm.Emit(Read10, out ulong d11Low);
        CudaAsm.Emit(Read11, out ulong d11High);
        acc.D11 = Accumulator(d11Low, d11High);
        CudaAsm.Emit(Read12, out ulong d12Low);
        CudaAsm.Emit(Read13, out ulong d12High);
        acc.D12 = Accumulator(d12Low, d12High);
        CudaAsm.Emit(Read14, out ulong d13Low);
        CudaAsm.Emit(Read15, out ulong d13High);
        acc.D13 = Accumulator(d13Low, d13High);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static MmaAccumulator Accumulator(ulong low, ulong high) => new()
    {
        C0 = Interop.IntAsFloat((uint)low),
        C1 = Interop.IntAsFloat((uint)(low >> 32)),
        C2 = Interop.IntAsFloat((uint)high),
        C3 = Interop.IntAsFloat((uint)(high >> 32)),
    };
}
