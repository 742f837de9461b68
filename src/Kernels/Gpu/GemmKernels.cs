using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Shapes, strides and epilogue of one (batched) GEMM launch: C[z] = act(alpha·A[z]·op(B[z]) + bias) with A [M, K]
/// row-major, B [K, N] (or [N, K] when <see cref="TransB"/> ≠ 0) and C [M, N]; batch z starts at z·Stride*; optionally
/// a residual laid out like C added last and scaled.
/// </summary>
internal struct GemmParams
{
    public int M, N, K, Lda, Ldb, Ldc;
    public long StrideA, StrideB, StrideC;
    /// <summary>1 when B is stored [N, K] (nn.Linear weights, Q·Kᵀ).</summary>
    public int TransB;
    public float Alpha;
    /// <summary>1 when the bias view holds N values added to every row.</summary>
    public int HasBias;
    /// <summary>Batch z adds bias[z·StrideBias + col] (0: one bias for every batch; N: one per batch, stacked Linears).</summary>
    public long StrideBias;
    /// <summary>1 when the bias is per row (bias[z·StrideBias + row]: an output channel when C is channels × pixels).</summary>
    public int BiasPerRow;
    /// <summary>1 when the residual view, laid out like C, is added after the activation and the sum scaled by <see cref="ResidualScale"/>.</summary>
    public int HasResidual;
    /// <summary>C = (act(alpha·A·op(B) + bias) + residual) · ResidualScale when <see cref="HasResidual"/> is set.</summary>
    public float ResidualScale;
    public Activation Activation;
    /// <summary>Set by the launcher: 64-wide tiles along N and M (the tiled kernel decodes its tile from the 1-D grid index).</summary>
    public int TilesN, TilesM;
}

/// <summary>
/// GEMM kernels for linear and batched matmul. Version 1 (<see cref="GemmVersion.Naive"/>) computes one output per
/// thread straight from global memory and is the reference; version 2 (<see cref="GemmVersion.Tiled"/>, the default)
/// stages 64×16 tiles of A and 16×64 tiles of B in shared memory, and each of a group's 16×16 threads keeps a 4×4
/// block of C in registers. Every launch is one-dimensional (tiles or outputs, then rows, then the batch, flattened onto
/// the grid's x dimension): CUDA allows 2³¹ − 1 groups along x but only 65,535 along y and z, which M/64 or the batch
/// could exceed.
/// </summary>
internal sealed class GemmKernels
{
    private const int Tile = 64;          // C tile per group (Tile × Tile)
    private const int TileK = 16;         // K step staged per barrier
    private const int Side = 16;          // threads per group side; Side × Side = 256 threads, 4×4 outputs each
    private const int Pitch = Tile + 1;   // padded row of a shared tile: transposing stores hit distinct banks

    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams> _naive;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>? _tiled;

    /// <summary>Loads the kernels for <paramref name="accelerator"/> (once; launches do not allocate).</summary>
    public GemmKernels(Accelerator accelerator)
    {
        _naive = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(Naive);
        // The tiled kernel needs 256-thread groups (CUDA and the test emulator have them); otherwise only the naive one runs.
        if (accelerator.MaxNumThreadsPerGroup >= Side * Side)
            _tiled = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(Tiled);
    }

    /// <summary>
    /// Queues C[z] = act(alpha·A[z]·op(B[z]) + bias) for z in [0, <paramref name="batch"/>). Pass an empty
    /// <paramref name="bias"/> view for none.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias,
        GemmParams p, int batch, GemmVersion version = GemmVersion.Tiled)
    {
        p.HasResidual = 0;
        Run(stream, a, b, c, bias, c, p, batch, version);
    }

    /// <summary>
    /// <see cref="Run(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, GemmParams, int, GemmVersion)"/>
    /// with <paramref name="residual"/> (laid out like C) read when <see cref="GemmParams.HasResidual"/> is set.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias,
        ArrayView<float> residual, GemmParams p, int batch, GemmVersion version = GemmVersion.Tiled)
    {
        if (p.M == 0 || p.N == 0 || batch == 0) return;
        p.HasBias = bias.Length > 0 ? 1 : 0;
        if (version == GemmVersion.Tiled && _tiled is not null)
        {
            p.TilesN = (p.N + Tile - 1) / Tile;
            p.TilesM = (p.M + Tile - 1) / Tile;
            long groups = (long)p.TilesN * p.TilesM * batch;
            if (groups > int.MaxValue) throw new ArgumentException($"gemm: {batch}×{p.M}×{p.N} needs {groups} tiles, more than one launch holds");
            _tiled(LaunchCounter.Count(stream), new KernelConfig(new Index3D((int)groups, 1, 1), new Index3D(Side, Side, 1)), a, b, c, bias, residual, p);
        }
        else
        {
            _naive(LaunchCounter.Count(stream), ElementwiseKernels.Threads((long)p.N * p.M * batch, "gemm"), a, b, c, bias, residual, p);
        }
    }

    /// <summary>Version 1: one thread per output element (index = (z·M + row)·N + col).</summary>
    private static void Naive(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p)
    {
        int rowOfBatch = i / p.N;
        int col = i - rowOfBatch * p.N;
        int z = rowOfBatch / p.M, row = rowOfBatch - z * p.M;
        long aRow = z * p.StrideA + (long)row * p.Lda;
        long bBase = z * p.StrideB;
        float sum = 0;
        for (int k = 0; k < p.K; k++)
            sum += a[aRow + k] * b[p.TransB != 0 ? bBase + (long)col * p.Ldb + k : bBase + (long)k * p.Ldb + col];
        long at = z * p.StrideC + (long)row * p.Ldc + col;
        c[at] = Epilogue(sum, z * p.StrideBias + (p.BiasPerRow != 0 ? row : col), bias, residual, at, p);
    }

    /// <summary>Version 2: shared-memory tiles, 4×4 register block per thread (rows ty + 16·i, columns tx + 16·j).</summary>
    private static void Tiled(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p)
    {
        var sa = SharedMemory.Allocate<float>(TileK * Pitch); // sa[k·Pitch + r]: A tile transposed
        var sb = SharedMemory.Allocate<float>(TileK * Pitch); // sb[k·Pitch + c]
        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * Side + tx;
        int tileOfBatch = Grid.IdxX / p.TilesN;
        int z = tileOfBatch / p.TilesM;
        int row0 = (tileOfBatch - z * p.TilesM) * Tile, col0 = (Grid.IdxX - tileOfBatch * p.TilesN) * Tile;
        long aBase = z * p.StrideA, bBase = z * p.StrideB, cBase = z * p.StrideC, biasBase = z * p.StrideBias;

        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;

        for (int k0 = 0; k0 < p.K; k0 += TileK)
        {
            // A tile (64 rows × 16 k): 16 consecutive k per row, 16 rows per pass, 4 passes.
            int ka = tid % TileK, ra = tid / TileK;
            for (int pass = 0; pass < Tile / Side; pass++)
            {
                int r = ra + pass * Side, row = row0 + r, k = k0 + ka;
                sa[ka * Pitch + r] = row < p.M && k < p.K ? a[aBase + (long)row * p.Lda + k] : 0f;
            }
            if (p.TransB == 0)
            {
                // B [K, N]: 64 consecutive columns per k, 4 k per pass.
                int cb = tid % Tile, kb = tid / Tile;
                for (int pass = 0; pass < TileK / (Side * Side / Tile); pass++)
                {
                    int kk = kb + pass * (Side * Side / Tile), k = k0 + kk, col = col0 + cb;
                    sb[kk * Pitch + cb] = k < p.K && col < p.N ? b[bBase + (long)k * p.Ldb + col] : 0f;
                }
            }
            else
            {
                // B [N, K]: 16 consecutive k per column, 16 columns per pass.
                int kb = tid % TileK, cb = tid / TileK;
                for (int pass = 0; pass < Tile / Side; pass++)
                {
                    int cc = cb + pass * Side, col = col0 + cc, k = k0 + kb;
                    sb[kb * Pitch + cc] = k < p.K && col < p.N ? b[bBase + (long)col * p.Ldb + k] : 0f;
                }
            }
            Group.Barrier();

            for (int kk = 0; kk < TileK; kk++)
            {
                int o = kk * Pitch;
                float a0 = sa[o + ty], a1 = sa[o + ty + Side], a2 = sa[o + ty + 2 * Side], a3 = sa[o + ty + 3 * Side];
                float b0 = sb[o + tx], b1 = sb[o + tx + Side], b2 = sb[o + tx + 2 * Side], b3 = sb[o + tx + 3 * Side];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }

        int r0 = row0 + ty, q0 = col0 + tx;
        Store(c, cBase, bias, biasBase, residual, p, r0, q0, c00); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + Side, c01); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + 2 * Side, c02); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + 3 * Side, c03);
        r0 += Side;
        Store(c, cBase, bias, biasBase, residual, p, r0, q0, c10); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + Side, c11); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + 2 * Side, c12); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + 3 * Side, c13);
        r0 += Side;
        Store(c, cBase, bias, biasBase, residual, p, r0, q0, c20); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + Side, c21); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + 2 * Side, c22); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + 3 * Side, c23);
        r0 += Side;
        Store(c, cBase, bias, biasBase, residual, p, r0, q0, c30); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + Side, c31); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + 2 * Side, c32); Store(c, cBase, bias, biasBase, residual, p, r0, q0 + 3 * Side, c33);
    }

    private static void Store(ArrayView<float> c, long cBase, ArrayView<float> bias, long biasBase, ArrayView<float> residual, GemmParams p, int row, int col, float acc)
    {
        if (row >= p.M || col >= p.N) return;
        long at = cBase + (long)row * p.Ldc + col;
        c[at] = Epilogue(acc, biasBase + (p.BiasPerRow != 0 ? row : col), bias, residual, at, p);
    }

    /// <summary>
    /// act(alpha·acc + bias[biasAt]), then (· + residual[at]) · ResidualScale with a residual (shared with the tensor-core
    /// GEMM, so both round the epilogue alike).
    /// </summary>
    internal static float Epilogue(float acc, long biasAt, ArrayView<float> bias, ArrayView<float> residual, long at, GemmParams p)
    {
        float v = p.Alpha * acc;
        if (p.HasBias != 0) v += bias[biasAt];
        v = ActivationMath.Apply(v, p.Activation);
        if (p.HasResidual != 0) v = (v + residual[at]) * p.ResidualScale;
        return v;
    }
}

/// <summary>Which GEMM kernel version to launch (all kept so a faster one is always checked against a simpler one).</summary>
internal enum GemmVersion
{
    /// <summary>One thread per output, no shared memory: the reference.</summary>
    Naive = 1,
    /// <summary>Shared-memory tiles with a 4×4 register block per thread: the default.</summary>
    Tiled = 2,
}
