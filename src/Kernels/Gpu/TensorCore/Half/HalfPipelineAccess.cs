using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// The fp32 staging buffers of the pipelined half GEMM (<see cref="HalfGemmVersion.Pipelined"/>): two buffers, each one
/// K-slice of A (64 rows × 32 k) and of B (64 columns × 32 k when B is stored [N, K], 32 k-rows × 64 columns when it is
/// stored [K, N]), exactly as the bytes lie in global memory, since <c>cp.async</c> copies bytes and cannot round them
/// to 16 bits. Rows are padded to a multiple of 4 floats, so every 16-byte chunk lands 16-byte aligned.
/// </summary>
internal static class HalfPipeline
{
    /// <summary>Floats between A rows (and B columns of a [N, K] B): 32 + 4.</summary>
    public const int Pitch = HalfTile.TileK + 4;

    /// <summary>Floats between k-rows of a [K, N] B: 64 + 4.</summary>
    public const int RowPitch = TensorCoreTile.TileN + 4;

    /// <summary>Floats of one operand's region (the larger of the two B layouts: 64 × 36 ≥ 32 × 68).</summary>
    public const int RegionFloats = TensorCoreTile.TileM * Pitch;

    /// <summary>Floats of one buffer: A's region, then B's.</summary>
    public const int BufferFloats = 2 * RegionFloats;

    /// <summary>Floats of both buffers (36,864 bytes).</summary>
    public const int StagingFloats = 2 * BufferFloats;

    /// <summary>Shared bytes per group: both fp32 buffers and the packed 16-bit stage the fragments are read from (47,104).</summary>
    public const int SharedBytes = StagingFloats * sizeof(float) + HalfTile.SharedWords * sizeof(uint);

    /// <summary>True when <paramref name="accelerator"/> fits the pipelined tiles (the half tiles and <see cref="SharedBytes"/>).</summary>
    public static bool Fits(ILGPU.Runtime.Accelerator accelerator) =>
        HalfTile.Fits(accelerator) && accelerator.MaxSharedMemoryPerGroup >= SharedBytes;
}


/// <summary>
/// What the pipelined half GEMM does with shared memory and the tensor cores: copy global memory into the fp32 staging
/// buffers (<c>cp.async</c>), round a buffer into the 16-bit stage, multiply the stage into the warp's accumulators.
/// <see cref="HalfPipelineCuda{TKind}"/> on CUDA, <see cref="HalfPipelineEmulation{TFormat}"/> elsewhere; the kernel's
/// slice, buffer and thread indexing is shared by both.
/// </summary>
internal interface IHalfPipelineAccess
{
    /// <summary>The ILGPU shared view of the staging buffers (<see cref="HalfPipeline.StagingFloats"/>), or an empty view where they live elsewhere.</summary>
    ArrayView<float> AllocateStaging();

    /// <summary>The ILGPU shared view of the 16-bit stage (<see cref="HalfTile.SharedWords"/>), or an empty view.</summary>
    ArrayView<uint> AllocateStage();

    /// <summary>Starts copying 4 floats from <paramref name="source"/>[<paramref name="index"/>] (byte address <paramref name="address"/>, 16-byte aligned) to staging float <paramref name="at"/> (16-byte aligned).</summary>
    void Copy16(ArrayView<float> staging, int at, ArrayView<float> source, long index, long address);

    /// <summary>Starts copying one float to staging float <paramref name="at"/>, or writing 0 there when <paramref name="valid"/> is false (nothing is read then).</summary>
    void Copy4(ArrayView<float> staging, int at, ArrayView<float> source, long index, long address, bool valid);

    /// <summary>Closes the group of copies this thread started since the last call.</summary>
    void Commit();

    /// <summary>Waits until at most the newest committed group of this thread is still in flight.</summary>
    void WaitAllButNewest();

    /// <summary>Waits until every committed group of this thread has landed.</summary>
    void WaitAll();

    /// <summary>Stage word <paramref name="word"/> = staging floats <paramref name="lo"/> and <paramref name="hi"/> rounded to the format, <paramref name="lo"/> in bits 0–15.</summary>
    void Round(ArrayView<float> staging, int lo, int hi, ArrayView<uint> stage, int word);

    /// <summary>Clears the accumulators (before the first slice).</summary>
    void Begin(ref WarpTile acc);

    /// <summary>Multiplies the stage into the warp's accumulators (<see cref="HalfTile.MultiplyStage{TFormat, TAccess}"/>'s order).</summary>
    void Multiply(ArrayView<uint> stage, int warpRow, int warpCol, int lane, ref WarpTile acc);

    /// <summary>Leaves the accumulated products in <paramref name="acc"/> (after the last slice).</summary>
    void Finish(ref WarpTile acc);
}

/// <summary>
/// The pipeline emulated on ILGPU shared views (for accelerators without inline PTX): each copy is done at once, zero
/// fill included, so committing and waiting have nothing left to do; the stage is read with the fragment-exact
/// <c>ldmatrix</c> emulation (<see cref="LdMatrixEmulationAccess"/>) and the mma's (<see cref="MmaHalf"/>).
/// </summary>
internal readonly struct HalfPipelineEmulation<TFormat> : IHalfPipelineAccess
    where TFormat : struct, IHalfFormat
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ArrayView<float> AllocateStaging() => SharedMemory.Allocate<float>(HalfPipeline.StagingFloats);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ArrayView<uint> AllocateStage() => default(LdMatrixEmulationAccess).AllocateStage();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Copy16(ArrayView<float> staging, int at, ArrayView<float> source, long index, long address)
    {
        staging[at] = source[index];
        staging[at + 1] = source[index + 1];
        staging[at + 2] = source[index + 2];
        staging[at + 3] = source[index + 3];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Copy4(ArrayView<float> staging, int at, ArrayView<float> source, long index, long address, bool valid) =>
        staging[at] = valid ? source[index] : 0f;

    public void Commit() { }

    public void WaitAllButNewest() { }

    public void WaitAll() { }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Round(ArrayView<float> staging, int lo, int hi, ArrayView<uint> stage, int word) =>
        default(LdMatrixEmulationAccess).Store(stage, word, default(TFormat).Pack(staging[lo], staging[hi]));

    public void Begin(ref WarpTile acc) => acc = default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Multiply(ArrayView<uint> stage, int warpRow, int warpCol, int lane, ref WarpTile acc) =>
        HalfTile.MultiplyStage<TFormat, LdMatrixEmulationAccess>(stage, warpRow, warpCol, lane, ref acc);

    public void Finish(ref WarpTile acc) { }
}
