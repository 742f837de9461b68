using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using static DiffusionKernels.Kernels.Gpu.TensorCoreTile;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>How the half GEMM reads fragments from its staged slice (both versions stay selectable, for benchmarks).</summary>
internal enum HalfGemmVersion
{
    /// <summary>Each lane loads its fragment words with 32-bit shared loads (an ILGPU shared view).</summary>
    SharedLoads,

    /// <summary>
    /// <c>ldmatrix</c> .x4 loads four 8×8 blocks per instruction from a <c>.shared</c> array declared in the PTX
    /// (<see cref="LdMatrixAccess"/>); emulated fragment-exactly off CUDA (<see cref="LdMatrixEmulationAccess"/>).
    /// </summary>
    LdMatrix,

    /// <summary>
    /// <see cref="LdMatrix"/> fed by a two-stage <c>cp.async</c> pipeline: the next K-slice is copied, still fp32, into
    /// the second of two staging buffers while the current one is rounded into the 16-bit stage and multiplied
    /// (<see cref="HalfPipelineCuda{TKind}"/>; emulated off CUDA by <see cref="HalfPipelineEmulation{TFormat}"/>). Same bits as
    /// <see cref="LdMatrix"/>.
    /// </summary>
    Pipelined,
}

/// <summary>
/// GEMM version 4: C[z] = act(alpha·A[z]·op(B[z]) + bias) (+ residual) on fp16 or bf16 tensor cores
/// (<see cref="MmaHalf"/>, m16n8k16, fp32 accumulation), with the shapes, strides and epilogue of
/// <see cref="GemmKernels"/>. The tiles are <see cref="TensorCoreGemmKernels"/>' (64×64 per 128-thread group, zero-filled
/// past the edges) with <see cref="HalfTile"/>'s shared layout: A and B stay fp32 in memory and are rounded to the
/// 16-bit format, two values per word, as they are staged. Callers opt in through the fp16/bf16 precision tiers.
/// </summary>
internal sealed partial class HalfTensorCoreGemmKernels
{
    private readonly Accelerator _accelerator;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>? _fp16, _bf16, _fp16LdMatrix, _bf16LdMatrix;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams, long, long>? _fp16Pipelined, _bf16Pipelined;

    /// <summary>Binds the launcher to <paramref name="accelerator"/>; each format's kernel is compiled on its first use.</summary>
    public HalfTensorCoreGemmKernels(Accelerator accelerator) => _accelerator = accelerator;

    /// <summary>True when the accelerator fits the tiles (<see cref="HalfTile.Fits"/>).</summary>
    public bool IsAvailable => HalfTile.Fits(_accelerator);

    /// <summary>
    /// Queues C[z] = act(alpha·A[z]·op(B[z]) + bias) for z in [0, <paramref name="batch"/>) with inputs rounded to
    /// <paramref name="type"/>; an empty <paramref name="bias"/> means none; <paramref name="residual"/> (laid out like C)
    /// is read when <see cref="GemmParams.HasResidual"/> is set.
    /// </summary>
    public void Run(AcceleratorStream stream, HalfType type, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias,
        ArrayView<float> residual, GemmParams p, int batch) => Run(stream, type, HalfGemmVersion.SharedLoads, a, b, c, bias, residual, p, batch);

    /// <summary>As above, with the fragment loads of <paramref name="version"/>.</summary>
    public void Run(AcceleratorStream stream, HalfType type, HalfGemmVersion version, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        ArrayView<float> bias, ArrayView<float> residual, GemmParams p, int batch)
    {
        if (!IsAvailable) throw new NotSupportedException("the fp16/bf16 tensor-core GEMM needs 32-lane warps, 128-thread groups and 10 KB of shared memory per group");
        if (p.M == 0 || p.N == 0 || batch == 0) return;
        p.HasBias = bias.Length > 0 ? 1 : 0;
        p.TilesN = (p.N + TileN - 1) / TileN;
        p.TilesM = (p.M + TileM - 1) / TileM;
        long groups = (long)p.TilesN * p.TilesM * batch;
        if (groups > int.MaxValue) throw new ArgumentException($"gemm: {batch}×{p.M}×{p.N} needs {groups} tiles, more than one launch holds");
        var config = new KernelConfig(new Index1D((int)groups), new Index1D(Threads));
        if (version == HalfGemmVersion.Pipelined)
        {
            RunPipelined(stream, config, type, a, b, c, bias, residual, p);
            return;
        }
        var kernel = (type, version) switch
        {
            (HalfType.Bf16, HalfGemmVersion.LdMatrix) => _bf16LdMatrix ??= Load(_accelerator.AcceleratorType == AcceleratorType.Cuda ? Bf16TiledLdMatrix : Bf16TiledLdMatrixEmulated),
            (HalfType.Bf16, _) => _bf16 ??= Load(Bf16Tiled),
            (_, HalfGemmVersion.LdMatrix) => _fp16LdMatrix ??= Load(_accelerator.AcceleratorType == AcceleratorType.Cuda ? Fp16TiledLdMatrix : Fp16TiledLdMatrixEmulated),
            _ => _fp16 ??= Load(Fp16Tiled),
        };
        kernel(LaunchCounter.Count(stream), config, a, b, c, bias, residual, p);
    }

    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams> Load(
        Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams> kernel) =>
        _accelerator.LoadKernel(kernel);

    private static void Fp16Tiled(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p) =>
        Tiled<Fp16Format, SharedViewAccess>(a, b, c, bias, residual, p);

    private static void Bf16Tiled(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p) =>
        Tiled<Bf16Format, SharedViewAccess>(a, b, c, bias, residual, p);

    // The ldmatrix kernels exist twice: with the PTX-declared stage for CUDA, and with the emulation elsewhere (neither
    // can hold the other's path: the declaration cannot sit under a branch, and the CPU accelerator cannot run PTX).
    private static void Fp16TiledLdMatrix(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p)
    {
        CudaAsm.Emit(LdMatrixAccess.Declaration);
        Tiled<Fp16Format, LdMatrixAccess>(a, b, c, bias, residual, p);
    }

    private static void Bf16TiledLdMatrix(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p)
    {
        CudaAsm.Emit(LdMatrixAccess.Declaration);
        Tiled<Bf16Format, LdMatrixAccess>(a, b, c, bias, residual, p);
    }

    private static void Fp16TiledLdMatrixEmulated(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p) =>
        Tiled<Fp16Format, LdMatrixEmulationAccess>(a, b, c, bias, residual, p);

    private static void Bf16TiledLdMatrixEmulated(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p) =>
        Tiled<Bf16Format, LdMatrixEmulationAccess>(a, b, c, bias, residual, p);

    /// <summary>Group x owns tile (x mod TilesN) of tile row (x / TilesN) mod TilesM of batch x / (TilesN·TilesM).</summary>
    private static void Tiled<TFormat, TAccess>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p)
        where TFormat : struct, IHalfFormat
        where TAccess : struct, IHalfStageAccess
    {
        var shared = default(TAccess).AllocateStage();
        int tid = Group.IdxX, lane = tid & (WarpSize - 1), warp = tid / WarpSize;
        int tileOfBatch = Grid.IdxX / p.TilesN;
        int z = tileOfBatch / p.TilesM;
        int row0 = (tileOfBatch - z * p.TilesM) * TileM, col0 = (Grid.IdxX - tileOfBatch * p.TilesN) * TileN;
        long aBase = z * p.StrideA, bBase = z * p.StrideB;
        int warpRow = (warp >> 1) * 32, warpCol = (warp & 1) * 32;

        var acc = default(WarpTile);
        for (int k0 = 0; k0 < p.K; k0 += HalfTile.TileK)
        {
            LoadStage<TFormat, TAccess>(shared, a, b, p, aBase, bBase, row0, col0, k0, tid);
            Group.Barrier();
            HalfTile.MultiplyStage<TFormat, TAccess>(shared, warpRow, warpCol, lane, ref acc);
            Group.Barrier(); // the next slice overwrites the tile
        }

        long cBase = z * p.StrideC, biasBase = z * p.StrideBias;
        int r = row0 + warpRow + (lane >> 2), q = col0 + warpCol + 2 * (lane & 3);
        Store(c, bias, residual, cBase, biasBase, p, r, q, acc.D00); Store(c, bias, residual, cBase, biasBase, p, r, q + 8, acc.D01);
        Store(c, bias, residual, cBase, biasBase, p, r, q + 16, acc.D02); Store(c, bias, residual, cBase, biasBase, p, r, q + 24, acc.D03);
        r += 16;
        Store(c, bias, residual, cBase, biasBase, p, r, q, acc.D10); Store(c, bias, residual, cBase, biasBase, p, r, q + 8, acc.D11);
        Store(c, bias, residual, cBase, biasBase, p, r, q + 16, acc.D12); Store(c, bias, residual, cBase, biasBase, p, r, q + 24, acc.D13);
    }

    /// <summary>
    /// Stages one K-slice: A rows [row0, row0 + 64) and B columns [col0, col0 + 64) of k in [k0, k0 + 32), two k per
    /// word, zero past M, N or K. Consecutive threads read consecutive k pairs (A; B stored [N, K]) or consecutive
    /// columns (B stored [K, N]).
    /// </summary>
    private static void LoadStage<TFormat, TAccess>(ArrayView<uint> shared, ArrayView<float> a, ArrayView<float> b, GemmParams p,
        long aBase, long bBase, int row0, int col0, int k0, int tid)
        where TFormat : struct, IHalfFormat
        where TAccess : struct, IHalfStageAccess
    {
        var format = default(TFormat);
        var access = default(TAccess);
        const int RowsPerPass = Threads / HalfTile.Words; // 8 rows of 16 words
        int word = tid & (HalfTile.Words - 1), rowOfPass = tid / HalfTile.Words;
        int k = k0 + 2 * word;
        bool k0Valid = k < p.K, k1Valid = k + 1 < p.K;
        for (int pass = 0; pass < TileM / RowsPerPass; pass++)
        {
            int r = rowOfPass + pass * RowsPerPass, row = row0 + r;
            bool rowValid = row < p.M;
            long at = aBase + (long)row * p.Lda + k;
            access.Store(shared, r * HalfTile.Pitch + word, format.Pack(rowValid && k0Valid ? a[at] : 0f, rowValid && k1Valid ? a[at + 1] : 0f));
        }
        if (p.TransB != 0)
        {
            for (int pass = 0; pass < TileN / RowsPerPass; pass++)
            {
                int n = rowOfPass + pass * RowsPerPass, col = col0 + n;
                bool colValid = col < p.N;
                long at = bBase + (long)col * p.Ldb + k;
                access.Store(shared, HalfTile.BOffset + n * HalfTile.Pitch + word, format.Pack(colValid && k0Valid ? b[at] : 0f, colValid && k1Valid ? b[at + 1] : 0f));
            }
        }
        else
        {
            const int WordsPerPass = Threads / TileN; // 2 words of 64 columns
            int n = tid & (TileN - 1), wordOfPass = tid / TileN;
            bool nValid = col0 + n < p.N;
            for (int pass = 0; pass < HalfTile.Words / WordsPerPass; pass++)
            {
                int w = wordOfPass + pass * WordsPerPass, kk = k0 + 2 * w;
                long at = bBase + (long)kk * p.Ldb + col0 + n;
                access.Store(shared, HalfTile.BOffset + n * HalfTile.Pitch + w, format.Pack(nValid && kk < p.K ? b[at] : 0f, nValid && kk + 1 < p.K ? b[at + p.Ldb] : 0f));
            }
        }
    }

    /// <summary>Writes one accumulator (rows r and r + 8, columns q and q + 1) through <see cref="GemmKernels.Epilogue"/>, inside M × N only.</summary>
    private static void Store(ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, long cBase, long biasBase, GemmParams p, int r, int q, MmaAccumulator d)
    {
        StoreOne(c, bias, residual, cBase, biasBase, p, r, q, d.C0);
        StoreOne(c, bias, residual, cBase, biasBase, p, r, q + 1, d.C1);
        StoreOne(c, bias, residual, cBase, biasBase, p, r + 8, q, d.C2);
        StoreOne(c, bias, residual, cBase, biasBase, p, r + 8, q + 1, d.C3);
    }

    private static void StoreOne(ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, long cBase, long biasBase, GemmParams p, int row, int col, float acc)
    {
        if (row >= p.M || col >= p.N) return;
        long at = cBase + (long)row * p.Ldc + col;
        c[at] = GemmKernels.Epilogue(acc, biasBase + (p.BiasPerRow != 0 ? row : col), bias, residual, at, p);
    }
}
