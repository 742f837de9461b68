using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using static DiffusionKernels.Kernels.Gpu.TensorCoreTile;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// GEMM version 3: C[z] = act(alpha·A[z]·op(B[z]) + bias) (+ residual) on TF32 tensor cores (<see cref="MmaTf32"/>),
/// with the shapes, strides and epilogue of <see cref="GemmKernels"/> (bias per column or per row, per-batch bias
/// stride, residual and scale). Each 128-thread group owns a 64×64 tile of C, staged
/// through <see cref="TensorCoreTile"/>'s shared memory (zero-filled past the edges, so any M, N, K works). Inputs
/// are rounded to TF32 (10-bit mantissa, <c>cvt.rna</c>) as they are staged, so the result is not the fp32 one:
/// callers opt in through the TF32 precision tier. Kept versions (<see cref="TensorCoreLaunch"/>, chosen per problem by
/// <see cref="TensorCoreTilePolicy"/>): 64×64 tiles over the whole K (the first), 64×64 tiles with split-K and a
/// deterministic reduction (small grids), 128×128 tiles (large grids); and the fp32-accurate 3xTF32 product
/// (<see cref="ThreeTf32"/>).
/// </summary>
internal sealed class TensorCoreGemmKernels
{
    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>? _kernel;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>? _tile128, _threeTf32;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams, SplitKSlices>? _splitK;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams, SplitKSlices>? _reduce;

    /// <summary>Loads the kernel when <paramref name="accelerator"/> fits the tiles (<see cref="TensorCoreTile.Fits"/>); the other versions load on first use.</summary>
    public TensorCoreGemmKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        if (TensorCoreTile.Fits(accelerator))
            _kernel = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(Tf32Tiled);
    }

    /// <summary>True when the kernel could be loaded on this accelerator.</summary>
    public bool IsAvailable => _kernel is not null;

    /// <summary>True when the 128×128 tiles fit this accelerator (256-thread groups, 36 KB of shared memory).</summary>
    public bool Has128 => _kernel is not null && TensorCoreTile128.Fits(_accelerator);

    /// <summary>
    /// Queues C[z] = act(alpha·A[z]·op(B[z]) + bias) for z in [0, <paramref name="batch"/>); an empty
    /// <paramref name="bias"/> view means none; <paramref name="residual"/> (laid out like C) is read when
    /// <see cref="GemmParams.HasResidual"/> is set. The first version: 64×64 tiles over the whole K.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias,
        ArrayView<float> residual, GemmParams p, int batch) =>
        Run(stream, a, b, c, bias, residual, p, batch, TensorCoreLaunch.Fixed64, ArrayView<float>.Empty);

    /// <summary>
    /// As above with the tile shape and K split of <paramref name="launch"/>. A split launch writes S partial products
    /// to <paramref name="workspace"/> (at least <see cref="WorkspaceFloats"/> floats) and sums them in slice order in a
    /// second kernel that applies the epilogue: no atomics, so the result is the same bits on every run.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias,
        ArrayView<float> residual, GemmParams p, int batch, TensorCoreLaunch launch, ArrayView<float> workspace)
    {
        if (_kernel is null) throw new NotSupportedException("the TF32 tensor-core GEMM needs 32-lane warps, 128-thread groups and 18 KB of shared memory per group");
        if (p.M == 0 || p.N == 0 || batch == 0) return;
        p.HasBias = bias.Length > 0 ? 1 : 0;
        var split = Slices(p, batch, launch);
        if (split.Slices > 1)
        {
            if (launch.Tile != TensorCoreTileShape.Tile64) throw new NotSupportedException("split-K runs on the 64×64 tiles");
            if (workspace.Length < split.SliceStride * split.Slices)
                throw new ArgumentException($"gemm: split-K over {split.Slices} slices needs a workspace of {split.SliceStride * split.Slices} floats, got {workspace.Length}");
            long groups = (long)split.GroupsPerSlice * split.Slices;
            if (groups > int.MaxValue || split.SliceStride > int.MaxValue)
                throw new ArgumentException($"gemm: {batch}×{p.M}×{p.N} in {split.Slices} K slices is more than one launch holds");
            _splitK ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams, SplitKSlices>(Tf32SplitK);
            _reduce ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams, SplitKSlices>(ReduceSlices);
            _splitK(LaunchCounter.Count(stream), new KernelConfig(new Index1D((int)groups), new Index1D(Threads)), a, b, workspace, p, split);
            _reduce(LaunchCounter.Count(stream), new Index1D((int)split.SliceStride), workspace, c, bias, residual, p, split);
            return;
        }
        if (launch.Tile == TensorCoreTileShape.Tile128)
        {
            if (!Has128) throw new NotSupportedException("the 128×128 TF32 tiles need 256-thread groups and 36 KB of shared memory per group");
            _tile128 ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(Tf32Tiled128);
            Launch(stream, _tile128, TensorCoreTile128.Tile, TensorCoreTile128.Threads, a, b, c, bias, residual, p, batch);
        }
        else
        {
            Launch(stream, _kernel, TileM, Threads, a, b, c, bias, residual, p, batch);
        }
    }

    /// <summary>
    /// Queues the fp32-accurate 3xTF32 version (<see cref="ThreeTf32"/>) of the same product and epilogue on 64×64
    /// tiles: three <c>mma</c> per product, error at fp32's level rather than TF32's.
    /// </summary>
    public void RunThreeTf32(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias,
        ArrayView<float> residual, GemmParams p, int batch)
    {
        if (_kernel is null) throw new NotSupportedException("the 3xTF32 tensor-core GEMM needs 32-lane warps, 128-thread groups and 18 KB of shared memory per group");
        if (p.M == 0 || p.N == 0 || batch == 0) return;
        p.HasBias = bias.Length > 0 ? 1 : 0;
        _threeTf32 ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(ThreeTf32Tiled);
        Launch(stream, _threeTf32, TileM, Threads, a, b, c, bias, residual, p, batch);
    }

    /// <summary>Floats of workspace a launch needs: S slices of batch × M × N (0 when K is not split).</summary>
    public static long WorkspaceFloats(int m, int n, int k, int batch, TensorCoreLaunch launch)
    {
        int slices = TensorCoreTilePolicy.SlicesOf(k, TensorCoreTilePolicy.SliceLength(k, launch.Slices));
        return launch.Slices > 1 && slices > 1 ? (long)slices * batch * m * n : 0;
    }

    /// <summary>The K split of a launch: slices of whole 32-deep stages, none empty (one slice when S ≤ 1 or K is short).</summary>
    private static SplitKSlices Slices(GemmParams p, int batch, TensorCoreLaunch launch)
    {
        if (launch.Slices <= 1) return new SplitKSlices { Slices = 1, SliceK = p.K };
        int sliceK = TensorCoreTilePolicy.SliceLength(p.K, launch.Slices);
        return new SplitKSlices
        {
            Slices = TensorCoreTilePolicy.SlicesOf(p.K, sliceK),
            SliceK = sliceK,
            GroupsPerSlice = (int)Math.Min(int.MaxValue, TensorCoreTilePolicy.Tiles(p.M, p.N, batch, TileM)),
            SliceStride = (long)batch * p.M * p.N,
        };
    }

    private static void Launch(AcceleratorStream stream, Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams> kernel,
        int tile, int threads, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p, int batch)
    {
        p.TilesN = (p.N + tile - 1) / tile;
        p.TilesM = (p.M + tile - 1) / tile;
        long groups = (long)p.TilesN * p.TilesM * batch;
        if (groups > int.MaxValue) throw new ArgumentException($"gemm: {batch}×{p.M}×{p.N} needs {groups} tiles, more than one launch holds");
        kernel(LaunchCounter.Count(stream), new KernelConfig(new Index1D((int)groups), new Index1D(threads)), a, b, c, bias, residual, p);
    }

    /// <summary>Group x owns tile (x mod TilesN) of tile row (x / TilesN) mod TilesM of batch x / (TilesN·TilesM).</summary>
    private static void Tf32Tiled(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p)
    {
        var shared = SharedMemory.Allocate<float>(SharedFloats);
        int tid = Group.IdxX, lane = tid & (WarpSize - 1), warp = tid / WarpSize;
        int tileOfBatch = Grid.IdxX / p.TilesN;
        int z = tileOfBatch / p.TilesM;
        int row0 = (tileOfBatch - z * p.TilesM) * TileM, col0 = (Grid.IdxX - tileOfBatch * p.TilesN) * TileN;
        long aBase = z * p.StrideA, bBase = z * p.StrideB;
        var output = new GemmOutput(c, bias, residual, z * p.StrideC, z * p.StrideBias);
        int warpRow = (warp >> 1) * 32, warpCol = (warp & 1) * 32;

        var acc = default(WarpTile);
        for (int k0 = 0; k0 < p.K; k0 += TileK)
        {
            LoadStage(shared, a, b, p, aBase, bBase, row0, col0, k0, p.K, tid, TileM, Threads, BOffset, true);
            Group.Barrier();
            MultiplyStage(shared, warpRow, warpCol, lane, ref acc);
            Group.Barrier(); // the next slice overwrites the tile
        }
        StoreTile(output, p, row0 + warpRow + (lane >> 2), col0 + warpCol + 2 * (lane & 3), acc);
    }

    /// <summary>
    /// Split-K: group x works on K slice x / GroupsPerSlice of tile x mod GroupsPerSlice (decoded as in
    /// <see cref="Tf32Tiled"/>) and writes its raw partial product (no alpha, bias or epilogue) to workspace slice
    /// [batch, M, N].
    /// </summary>
    private static void Tf32SplitK(ArrayView<float> a, ArrayView<float> b, ArrayView<float> workspace, GemmParams p, SplitKSlices split)
    {
        var shared = SharedMemory.Allocate<float>(SharedFloats);
        int tid = Group.IdxX, lane = tid & (WarpSize - 1), warp = tid / WarpSize;
        int slice = Grid.IdxX / split.GroupsPerSlice, tile = Grid.IdxX - slice * split.GroupsPerSlice;
        int tilesN = (p.N + TileN - 1) / TileN, tilesM = (p.M + TileM - 1) / TileM;
        int tileOfBatch = tile / tilesN;
        int z = tileOfBatch / tilesM;
        int row0 = (tileOfBatch - z * tilesM) * TileM, col0 = (tile - tileOfBatch * tilesN) * TileN;
        int kBegin = slice * split.SliceK, kEnd = Math.Min(p.K, kBegin + split.SliceK);
        int warpRow = (warp >> 1) * 32, warpCol = (warp & 1) * 32;

        var acc = default(WarpTile);
        for (int k0 = kBegin; k0 < kEnd; k0 += TileK)
        {
            LoadStage(shared, a, b, p, z * p.StrideA, z * p.StrideB, row0, col0, k0, kEnd, tid, TileM, Threads, BOffset, true);
            Group.Barrier();
            MultiplyStage(shared, warpRow, warpCol, lane, ref acc);
            Group.Barrier();
        }
        acc.StorePartial(workspace, slice * split.SliceStride + (long)z * p.M * p.N, p.N, p.M,
            row0 + warpRow + (lane >> 2), col0 + warpCol + 2 * (lane & 3));
    }

    /// <summary>
    /// The split-K reduction, one thread per output (index (z·M + row)·N + col): the slices summed in order 0, 1, …
    /// (a fixed order, so the bits do not depend on scheduling), then <see cref="GemmKernels.Epilogue"/>.
    /// </summary>
    private static void ReduceSlices(Index1D i, ArrayView<float> workspace, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual,
        GemmParams p, SplitKSlices split)
    {
        float sum = 0f;
        for (int s = 0; s < split.Slices; s++) sum += workspace[s * split.SliceStride + i];
        int rowOfBatch = i / p.N;
        int col = i - rowOfBatch * p.N;
        int z = rowOfBatch / p.M, row = rowOfBatch - z * p.M;
        long at = z * p.StrideC + (long)row * p.Ldc + col;
        c[at] = GemmKernels.Epilogue(sum, z * p.StrideBias + (p.BiasPerRow != 0 ? row : col), bias, residual, at, p);
    }

    /// <summary>Version with 128×128 tiles (<see cref="TensorCoreTile128"/>): warp w owns rows 64·(w / 4), columns 32·(w mod 4).</summary>
    private static void Tf32Tiled128(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p)
    {
        const int tile = TensorCoreTile128.Tile;
        var shared = SharedMemory.Allocate<float>(TensorCoreTile128.SharedFloats);
        int tid = Group.IdxX, lane = tid & (WarpSize - 1), warp = tid / WarpSize;
        int tileOfBatch = Grid.IdxX / p.TilesN;
        int z = tileOfBatch / p.TilesM;
        int row0 = (tileOfBatch - z * p.TilesM) * tile, col0 = (Grid.IdxX - tileOfBatch * p.TilesN) * tile;
        long aBase = z * p.StrideA, bBase = z * p.StrideB;
        var output = new GemmOutput(c, bias, residual, z * p.StrideC, z * p.StrideBias);
        int warpRow = (warp >> 2) * 64, warpCol = (warp & 3) * 32;

        var top = default(WarpTile);
        var bottom = default(WarpTile);
        for (int k0 = 0; k0 < p.K; k0 += TileK)
        {
            LoadStage(shared, a, b, p, aBase, bBase, row0, col0, k0, p.K, tid, tile, TensorCoreTile128.Threads, TensorCoreTile128.BOffset, true);
            Group.Barrier();
            TensorCoreTile128.MultiplyStage(shared, warpRow, warpCol, lane, ref top, ref bottom);
            Group.Barrier();
        }
        int r = row0 + warpRow + (lane >> 2), q = col0 + warpCol + 2 * (lane & 3);
        StoreTile(output, p, r, q, top);
        StoreTile(output, p, r + 32, q, bottom);
    }

    /// <summary>The 3xTF32 version: fp32 values staged unrounded, each fragment split into big and small TF32 parts.</summary>
    private static void ThreeTf32Tiled(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p)
    {
        var shared = SharedMemory.Allocate<float>(SharedFloats);
        int tid = Group.IdxX, lane = tid & (WarpSize - 1), warp = tid / WarpSize;
        int tileOfBatch = Grid.IdxX / p.TilesN;
        int z = tileOfBatch / p.TilesM;
        int row0 = (tileOfBatch - z * p.TilesM) * TileM, col0 = (Grid.IdxX - tileOfBatch * p.TilesN) * TileN;
        long aBase = z * p.StrideA, bBase = z * p.StrideB;
        var output = new GemmOutput(c, bias, residual, z * p.StrideC, z * p.StrideBias);
        int warpRow = (warp >> 1) * 32, warpCol = (warp & 1) * 32;

        var acc = default(WarpTile);
        for (int k0 = 0; k0 < p.K; k0 += TileK)
        {
            LoadStage(shared, a, b, p, aBase, bBase, row0, col0, k0, p.K, tid, TileM, Threads, BOffset, false);
            Group.Barrier();
            ThreeTf32.MultiplyStage(shared, warpRow, warpCol, lane, ref acc);
            Group.Barrier();
        }
        StoreTile(output, p, row0 + warpRow + (lane >> 2), col0 + warpCol + 2 * (lane & 3), acc);
    }

    /// <summary>
    /// Stages one K-slice (TF32-rounded when <paramref name="round"/>, else plain fp32): A rows [row0, row0 + tile) and
    /// B columns [col0, col0 + tile) of k in [k0, k0 + 32), zero past M, N or <paramref name="kEnd"/>. Consecutive
    /// threads read consecutive global addresses (k for A and for B stored [N, K]; n for B stored [K, N]). The tile
    /// arguments are constants at every call, so the inlined loops have fixed trip counts.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadStage(ArrayView<float> shared, ArrayView<float> a, ArrayView<float> b, GemmParams p,
        long aBase, long bBase, int row0, int col0, int k0, int kEnd, int tid, int tile, int threads, int bOffset, bool round)
    {
        int k = tid & (TileK - 1), rowOfPass = tid / TileK; // threads / 32 rows of 32 k per pass
        int rowsPerPass = threads / TileK;
        bool kValid = k0 + k < kEnd;
        for (int pass = 0; pass < tile / rowsPerPass; pass++)
        {
            int r = rowOfPass + pass * rowsPerPass, row = row0 + r;
            shared[r * Pitch + k] = kValid && row < p.M ? Stage(a[aBase + (long)row * p.Lda + k0 + k], round) : 0f;
        }
        if (p.TransB != 0)
        {
            for (int pass = 0; pass < tile / rowsPerPass; pass++)
            {
                int n = rowOfPass + pass * rowsPerPass, col = col0 + n;
                shared[bOffset + n * Pitch + k] = kValid && col < p.N ? Stage(b[bBase + (long)col * p.Ldb + k0 + k], round) : 0f;
            }
        }
        else
        {
            int n = tid & (tile - 1), kOfPass = tid / tile; // threads / tile k of tile columns per pass
            int kPerPass = threads / tile;
            bool nValid = col0 + n < p.N;
            for (int pass = 0; pass < TileK / kPerPass; pass++)
            {
                int kk = kOfPass + pass * kPerPass;
                shared[bOffset + n * Pitch + kk] = nValid && k0 + kk < kEnd ? Stage(b[bBase + (long)(k0 + kk) * p.Ldb + col0 + n], round) : 0f;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Stage(float v, bool round) => round ? Tf32.Round(v) : v;

    /// <summary>A warp's 32×32 block through the epilogue: lane (g, t) starts at row r, column q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTile(GemmOutput output, GemmParams p, int r, int q, in WarpTile acc)
    {
        Store(output, p, r, q, acc.D00); Store(output, p, r, q + 8, acc.D01);
        Store(output, p, r, q + 16, acc.D02); Store(output, p, r, q + 24, acc.D03);
        r += 16;
        Store(output, p, r, q, acc.D10); Store(output, p, r, q + 8, acc.D11);
        Store(output, p, r, q + 16, acc.D12); Store(output, p, r, q + 24, acc.D13);
    }

    /// <summary>Writes one accumulator (rows r and r + 8, columns q and q + 1) through the epilogue, inside M × N only.</summary>
    private static void Store(GemmOutput output, GemmParams p, int r, int q, MmaAccumulator d)
    {
        StoreOne(output, p, r, q, d.C0);
        StoreOne(output, p, r, q + 1, d.C1);
        StoreOne(output, p, r + 8, q, d.C2);
        StoreOne(output, p, r + 8, q + 1, d.C3);
    }

    private static void StoreOne(GemmOutput o, GemmParams p, int row, int col, float acc)
    {
        if (row >= p.M || col >= p.N) return;
        long at = o.CBase + (long)row * p.Ldc + col;
        o.C[at] = GemmKernels.Epilogue(acc, o.BiasBase + (p.BiasPerRow != 0 ? row : col), o.Bias, o.Residual, at, p);
    }

    /// <summary>Where one batch's tile is written: C, bias and residual with the batch's offsets.</summary>
    private readonly struct GemmOutput(ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, long cBase, long biasBase)
    {
        public readonly ArrayView<float> C = c, Bias = bias, Residual = residual;
        public readonly long CBase = cBase, BiasBase = biasBase;
    }
}
