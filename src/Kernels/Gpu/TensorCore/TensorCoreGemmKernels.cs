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
/// callers opt in through the TF32 precision tier.
/// </summary>
internal sealed class TensorCoreGemmKernels
{
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>? _kernel;

    /// <summary>Loads the kernel when <paramref name="accelerator"/> fits the tiles (<see cref="TensorCoreTile.Fits"/>).</summary>
    public TensorCoreGemmKernels(Accelerator accelerator)
    {
        if (TensorCoreTile.Fits(accelerator))
            _kernel = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(Tf32Tiled);
    }

    /// <summary>True when the kernel could be loaded on this accelerator.</summary>
    public bool IsAvailable => _kernel is not null;

    /// <summary>
    /// Queues C[z] = act(alpha·A[z]·op(B[z]) + bias) for z in [0, <paramref name="batch"/>); an empty
    /// <paramref name="bias"/> view means none; <paramref name="residual"/> (laid out like C) is read when
    /// <see cref="GemmParams.HasResidual"/> is set.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias,
        ArrayView<float> residual, GemmParams p, int batch)
    {
        if (_kernel is null) throw new NotSupportedException("the TF32 tensor-core GEMM needs 32-lane warps, 128-thread groups and 18 KB of shared memory per group");
        if (p.M == 0 || p.N == 0 || batch == 0) return;
        p.HasBias = bias.Length > 0 ? 1 : 0;
        p.TilesN = (p.N + TileN - 1) / TileN;
        p.TilesM = (p.M + TileM - 1) / TileM;
        long groups = (long)p.TilesN * p.TilesM * batch;
        if (groups > int.MaxValue) throw new ArgumentException($"gemm: {batch}×{p.M}×{p.N} needs {groups} tiles, more than one launch holds");
        _kernel(LaunchCounter.Count(stream), new KernelConfig(new Index1D((int)groups), new Index1D(Threads)), a, b, c, bias, residual, p);
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
            LoadStage(shared, a, b, p, aBase, bBase, row0, col0, k0, tid);
            Group.Barrier();
            MultiplyStage(shared, warpRow, warpCol, lane, ref acc);
            Group.Barrier(); // the next slice overwrites the tile
        }

        int r = row0 + warpRow + (lane >> 2), q = col0 + warpCol + 2 * (lane & 3);
        Store(output, p, r, q, acc.D00); Store(output, p, r, q + 8, acc.D01);
        Store(output, p, r, q + 16, acc.D02); Store(output, p, r, q + 24, acc.D03);
        r += 16;
        Store(output, p, r, q, acc.D10); Store(output, p, r, q + 8, acc.D11);
        Store(output, p, r, q + 16, acc.D12); Store(output, p, r, q + 24, acc.D13);
    }

    /// <summary>
    /// Stages one K-slice, rounded to TF32: A rows [row0, row0 + 64) and B columns [col0, col0 + 64) of k in
    /// [k0, k0 + 32), zero past M, N or K. Consecutive threads read consecutive global addresses (k for A and for
    /// B stored [N, K]; n for B stored [K, N]).
    /// </summary>
    private static void LoadStage(ArrayView<float> shared, ArrayView<float> a, ArrayView<float> b, GemmParams p,
        long aBase, long bBase, int row0, int col0, int k0, int tid)
    {
        int k = tid & (TileK - 1), rowOfPass = tid / TileK; // 4 rows of 32 k per pass
        bool kValid = k0 + k < p.K;
        for (int pass = 0; pass < TileM / (Threads / TileK); pass++)
        {
            int r = rowOfPass + pass * (Threads / TileK), row = row0 + r;
            shared[r * Pitch + k] = kValid && row < p.M ? Tf32.Round(a[aBase + (long)row * p.Lda + k0 + k]) : 0f;
        }
        if (p.TransB != 0)
        {
            for (int pass = 0; pass < TileN / (Threads / TileK); pass++)
            {
                int n = rowOfPass + pass * (Threads / TileK), col = col0 + n;
                shared[BOffset + n * Pitch + k] = kValid && col < p.N ? Tf32.Round(b[bBase + (long)col * p.Ldb + k0 + k]) : 0f;
            }
        }
        else
        {
            int n = tid & (TileN - 1), kOfPass = tid / TileN; // 2 k of 64 columns per pass
            bool nValid = col0 + n < p.N;
            for (int pass = 0; pass < TileK / (Threads / TileN); pass++)
            {
                int kk = kOfPass + pass * (Threads / TileN);
                shared[BOffset + n * Pitch + kk] = nValid && k0 + kk < p.K ? Tf32.Round(b[bBase + (long)(k0 + kk) * p.Ldb + col0 + n]) : 0f;
            }
        }
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
