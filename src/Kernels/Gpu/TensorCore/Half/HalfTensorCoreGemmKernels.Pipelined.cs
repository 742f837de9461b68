using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using static DiffusionKernels.Kernels.Gpu.TensorCoreTile;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// <see cref="HalfGemmVersion.Pipelined"/>: the ldmatrix GEMM with a two-stage <c>cp.async</c> pipeline. Per K-slice s:
/// start copying slice s + 1 into buffer (s + 1) mod 2 and commit it; wait until only that group is in flight (slice s
/// has landed); barrier; round buffer s mod 2 into the 16-bit stage; barrier; multiply the stage. The copy of slice
/// s + 1 overlaps the rounding and the mma work of slice s. Buffer s mod 2 is overwritten again only by the copies
/// issued in iteration s + 1, after every thread has passed iteration s's second barrier, i.e. finished reading it;
/// the stage is rewritten only after iteration s + 1's first barrier, i.e. after every warp's multiply of slice s.
/// The stage's words are the <see cref="HalfGemmVersion.LdMatrix"/> version's (same values, same zero fill, same
/// rounding), so the result is too, bit for bit.
/// </summary>
internal sealed partial class HalfTensorCoreGemmKernels
{
    private void RunPipelined(AcceleratorStream stream, KernelConfig config, HalfType type, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        ArrayView<float> bias, ArrayView<float> residual, GemmParams p)
    {
        if (!HalfPipeline.Fits(_accelerator))
            throw new NotSupportedException($"the pipelined fp16/bf16 tensor-core GEMM needs {HalfPipeline.SharedBytes} bytes of shared memory per group; this device has {_accelerator.MaxSharedMemoryPerGroup}");
        bool cuda = _accelerator.AcceleratorType == AcceleratorType.Cuda;
        var kernel = type == HalfType.Bf16
            ? _bf16Pipelined ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams, long, long>(
                cuda ? Bf16TiledPipelined : Bf16TiledPipelinedEmulated)
            : _fp16Pipelined ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams, long, long>(
                cuda ? Fp16TiledPipelined : Fp16TiledPipelinedEmulated);
        // cp.async takes global byte addresses, which a kernel cannot take of a view: they come as arguments.
        kernel(LaunchCounter.Count(stream), config, a, b, c, bias, residual, p, a.LoadEffectiveAddressAsPtr().ToInt64(), b.LoadEffectiveAddressAsPtr().ToInt64());
    }

    // As for the ldmatrix kernels: one pair of entry points declares the PTX arrays (CUDA), the other emulates them.
    private static void Fp16TiledPipelined(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p,
        long aAddress, long bAddress)
    {
        CudaAsm.Emit(LdMatrixAccess.Declaration);
        CudaAsm.Emit(HalfPipelineCuda<PtxFp16>.Declaration);
        Pipelined<HalfPipelineCuda<PtxFp16>>(a, b, c, bias, residual, p, aAddress, bAddress);
    }

    private static void Bf16TiledPipelined(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p,
        long aAddress, long bAddress)
    {
        CudaAsm.Emit(LdMatrixAccess.Declaration);
        CudaAsm.Emit(HalfPipelineCuda<PtxBf16>.Declaration);
        Pipelined<HalfPipelineCuda<PtxBf16>>(a, b, c, bias, residual, p, aAddress, bAddress);
    }

    private static void Fp16TiledPipelinedEmulated(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p,
        long aAddress, long bAddress) =>
        Pipelined<HalfPipelineEmulation<Fp16Format>>(a, b, c, bias, residual, p, aAddress, bAddress);

    private static void Bf16TiledPipelinedEmulated(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p,
        long aAddress, long bAddress) =>
        Pipelined<HalfPipelineEmulation<Bf16Format>>(a, b, c, bias, residual, p, aAddress, bAddress);

    /// <summary>The tile of group x as in <see cref="Tiled{TFormat, TAccess}"/>, its K-slices pipelined.</summary>
    private static void Pipelined<TPipe>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual,
        GemmParams p, long aAddress, long bAddress)
        where TPipe : struct, IHalfPipelineAccess
    {
        var copy = default(TPipe);
        var staging = copy.AllocateStaging();
        var shared = copy.AllocateStage();
        int tid = Group.IdxX, lane = tid & (WarpSize - 1), warp = tid / WarpSize;
        int tileOfBatch = Grid.IdxX / p.TilesN;
        int z = tileOfBatch / p.TilesM;
        int row0 = (tileOfBatch - z * p.TilesM) * TileM, col0 = (Grid.IdxX - tileOfBatch * p.TilesN) * TileN;
        long aBase = z * p.StrideA, bBase = z * p.StrideB;
        int warpRow = (warp >> 1) * 32, warpCol = (warp & 1) * 32;

        var acc = default(WarpTile);
        copy.Begin(ref acc);
        int slices = (p.K + HalfTile.TileK - 1) / HalfTile.TileK;
        if (slices > 0)
        {
            IssueSlice(copy, staging, a, b, p, aBase, bBase, aAddress, bAddress, row0, col0, 0, 0, tid);
            copy.Commit();
        }
        for (int s = 0; s < slices; s++)
        {
            if (s + 1 < slices)
            {
                IssueSlice(copy, staging, a, b, p, aBase, bBase, aAddress, bAddress, row0, col0, (s + 1) * HalfTile.TileK, (s + 1) & 1, tid);
                copy.Commit();
                copy.WaitAllButNewest();
            }
            else
            {
                copy.WaitAll();
            }
            Group.Barrier(); // slice s has landed for every thread; every warp is done with the stage
            RoundSlice(copy, staging, shared, p, s & 1, tid);
            Group.Barrier();
            copy.Multiply(shared, warpRow, warpCol, lane, ref acc);
        }
        copy.Finish(ref acc);

        long cBase = z * p.StrideC, biasBase = z * p.StrideBias;
        int r = row0 + warpRow + (lane >> 2), q = col0 + warpCol + 2 * (lane & 3);
        Store(c, bias, residual, cBase, biasBase, p, r, q, acc.D00); Store(c, bias, residual, cBase, biasBase, p, r, q + 8, acc.D01);
        Store(c, bias, residual, cBase, biasBase, p, r, q + 16, acc.D02); Store(c, bias, residual, cBase, biasBase, p, r, q + 24, acc.D03);
        r += 16;
        Store(c, bias, residual, cBase, biasBase, p, r, q, acc.D10); Store(c, bias, residual, cBase, biasBase, p, r, q + 8, acc.D11);
        Store(c, bias, residual, cBase, biasBase, p, r, q + 16, acc.D12); Store(c, bias, residual, cBase, biasBase, p, r, q + 24, acc.D13);
    }

    /// <summary>
    /// Starts the copies of slice [k0, k0 + 32) into buffer <paramref name="buffer"/>: 16-byte chunks of 4 consecutive
    /// floats (A rows and [N, K] B columns along k, [K, N] B rows along n), 4 per thread and operand, consecutive threads
    /// on consecutive chunks. Every float of the slice is written, past M, N or K as 0.
    /// </summary>
    private static void IssueSlice<TPipe>(TPipe copy, ArrayView<float> staging, ArrayView<float> a, ArrayView<float> b, GemmParams p,
        long aBase, long bBase, long aAddress, long bAddress, int row0, int col0, int k0, int buffer, int tid)
        where TPipe : struct, IHalfPipelineAccess
    {
        const int ChunksPerRow = HalfTile.TileK / 4, ChunksPerPass = Threads;
        int at = buffer * HalfPipeline.BufferFloats, bAt = at + HalfPipeline.RegionFloats;
        for (int pass = 0; pass < TileM * ChunksPerRow / ChunksPerPass; pass++)
        {
            int chunk = tid + pass * ChunksPerPass, r = chunk / ChunksPerRow, k = k0 + 4 * (chunk & (ChunksPerRow - 1));
            int valid = row0 + r < p.M ? Within4(p.K - k) : 0;
            CopyChunk(copy, staging, at + r * HalfPipeline.Pitch + (k - k0), a, aBase + (long)(row0 + r) * p.Lda + k, aAddress, valid);
        }
        if (p.TransB != 0)
        {
            for (int pass = 0; pass < TileN * ChunksPerRow / ChunksPerPass; pass++)
            {
                int chunk = tid + pass * ChunksPerPass, n = chunk / ChunksPerRow, k = k0 + 4 * (chunk & (ChunksPerRow - 1));
                int valid = col0 + n < p.N ? Within4(p.K - k) : 0;
                CopyChunk(copy, staging, bAt + n * HalfPipeline.Pitch + (k - k0), b, bBase + (long)(col0 + n) * p.Ldb + k, bAddress, valid);
            }
        }
        else
        {
            const int ChunksPerKRow = TileN / 4;
            for (int pass = 0; pass < HalfTile.TileK * ChunksPerKRow / ChunksPerPass; pass++)
            {
                int chunk = tid + pass * ChunksPerPass, kr = chunk / ChunksPerKRow, n = 4 * (chunk & (ChunksPerKRow - 1));
                int valid = k0 + kr < p.K ? Within4(p.N - (col0 + n)) : 0;
                CopyChunk(copy, staging, bAt + kr * HalfPipeline.RowPitch + n, b, bBase + (long)(k0 + kr) * p.Ldb + col0 + n, bAddress, valid);
            }
        }
    }

    /// <summary>How many of a chunk's 4 floats lie inside when <paramref name="left"/> remain before the edge.</summary>
    private static int Within4(int left) => left >= 4 ? 4 : left > 0 ? left : 0;

    /// <summary>
    /// Copies the first <paramref name="valid"/> of 4 floats at <paramref name="source"/>[<paramref name="index"/>] and
    /// zero-fills the rest: one 16-byte copy when all 4 are valid and the source is 16-byte aligned (leading dimensions
    /// and batch strides that are multiples of 4 on an aligned view), else four 4-byte copies, the invalid ones reading
    /// nothing (their address is the view's start, never past it).
    /// </summary>
    private static void CopyChunk<TPipe>(TPipe copy, ArrayView<float> staging, int at, ArrayView<float> source, long index, long address, int valid)
        where TPipe : struct, IHalfPipelineAccess
    {
        long from = address + index * sizeof(float);
        if (valid == 4 && (from & 15) == 0)
        {
            copy.Copy16(staging, at, source, index, from);
            return;
        }
        for (int j = 0; j < 4; j++)
        {
            bool inside = j < valid;
            copy.Copy4(staging, at + j, source, inside ? index + j : 0, inside ? from + j * sizeof(float) : address, inside);
        }
    }

    /// <summary>
    /// Rounds buffer <paramref name="buffer"/> into the 16-bit stage exactly as the unpipelined versions stage the
    /// slice (same words, same thread mapping): A rows and [N, K] B columns two consecutive k at a time, [K, N] B from
    /// two k-rows.
    /// </summary>
    private static void RoundSlice<TPipe>(TPipe copy, ArrayView<float> staging, ArrayView<uint> shared, GemmParams p, int buffer, int tid)
        where TPipe : struct, IHalfPipelineAccess
    {
        const int RowsPerPass = Threads / HalfTile.Words;
        int at = buffer * HalfPipeline.BufferFloats, bAt = at + HalfPipeline.RegionFloats;
        int word = tid & (HalfTile.Words - 1), rowOfPass = tid / HalfTile.Words;
        for (int pass = 0; pass < TileM / RowsPerPass; pass++)
        {
            int r = rowOfPass + pass * RowsPerPass, from = at + r * HalfPipeline.Pitch + 2 * word;
            copy.Round(staging, from, from + 1, shared, r * HalfTile.Pitch + word);
        }
        if (p.TransB != 0)
        {
            for (int pass = 0; pass < TileN / RowsPerPass; pass++)
            {
                int n = rowOfPass + pass * RowsPerPass, from = bAt + n * HalfPipeline.Pitch + 2 * word;
                copy.Round(staging, from, from + 1, shared, HalfTile.BOffset + n * HalfTile.Pitch + word);
            }
        }
        else
        {
            const int WordsPerPass = Threads / TileN;
            int n = tid & (TileN - 1), wordOfPass = tid / TileN;
            for (int pass = 0; pass < HalfTile.Words / WordsPerPass; pass++)
            {
                int w = wordOfPass + pass * WordsPerPass, from = bAt + 2 * w * HalfPipeline.RowPitch + n;
                copy.Round(staging, from, from + HalfPipeline.RowPitch, shared, HalfTile.BOffset + n * HalfTile.Pitch + w);
            }
        }
    }
}
