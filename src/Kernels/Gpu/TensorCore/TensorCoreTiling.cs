namespace DiffusionKernels.Kernels.Gpu;

/// <summary>The output tile of a TF32 tensor-core launch.</summary>
internal enum TensorCoreTileShape
{
    /// <summary>64×64×32 tiles, 128 threads (2×2 warps of 32×32): the first version, many small groups.</summary>
    Tile64 = 64,
    /// <summary>128×128×32 tiles, 256 threads (2×4 warps of 64×32): half the staged bytes per FLOP, 4× fewer groups.</summary>
    Tile128 = 128,
}

/// <summary>
/// How one tensor-core GEMM or convolution is launched: the tile shape, and the number of K slices (1: no split-K;
/// S &gt; 1: each of S slices writes its partial product to a workspace, a second kernel sums them in slice order and
/// applies the epilogue).
/// </summary>
internal readonly record struct TensorCoreLaunch(TensorCoreTileShape Tile, int Slices)
{
    /// <summary>The first version's fixed choice: 64×64 tiles over the whole K.</summary>
    public static TensorCoreLaunch Fixed64 { get; } = new(TensorCoreTileShape.Tile64, 1);

    /// <summary>True when K is split (a workspace and a reduction launch are needed).</summary>
    public bool IsSplit => Slices > 1;
}

/// <summary>
/// Picks the tile shape and split-K factor of a tensor-core launch from the problem size so that the grid fills the
/// SMs. Pure (no device access), so the decisions are unit-tested; the thresholds are a heuristic to be tuned by GPU
/// measurement (<c>bench kernel gemm|conv</c> prints every choice side by side):
/// <list type="number">
/// <item>128×128 tiles when they alone give every SM at least one group (tiles ≥ SMs): they stage half the bytes per
/// FLOP of 64×64 tiles, and with a full wave the 4× fewer groups cost nothing.</item>
/// <item>Otherwise 64×64 tiles when they give every SM a group.</item>
/// <item>Otherwise (batch 1, deep layers: few output tiles, long K) 64×64 tiles with K split into S slices, S the
/// smallest factor that gives every SM a group, but no more than <see cref="MaxSlices"/> and no slice shorter than
/// <see cref="MinSliceK"/> (a shorter slice spends more on writing and re-reading its 64×64 partial tile than on its
/// multiply). Slices are whole 32-deep stages, so S is recomputed from the slice length: the grid never holds an empty
/// slice.</item>
/// </list>
/// </summary>
internal static class TensorCoreTilePolicy
{
    /// <summary>The SM count assumed when the device does not report one: an H100/H200 SXM (132 SMs).</summary>
    public const int DefaultMultiprocessors = 132;

    /// <summary>Shortest K slice worth a group of its own: 4 stages of 32.</summary>
    public const int MinSliceK = 4 * TensorCoreTile.TileK;

    /// <summary>Most K slices of one launch (bounds the workspace and the reduction's reads).</summary>
    public const int MaxSlices = 16;

    /// <summary>The launch for C[batch × M × N] = A[M × K]·B[K × N] on <paramref name="multiprocessors"/> SMs (≤ 0: <see cref="DefaultMultiprocessors"/>).</summary>
    public static TensorCoreLaunch Choose(int m, int n, int k, int batch, int multiprocessors)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        int sms = multiprocessors > 0 ? multiprocessors : DefaultMultiprocessors;
        if (Tiles(m, n, batch, 128) >= sms) return new(TensorCoreTileShape.Tile128, 1);
        long tiles64 = Tiles(m, n, batch, 64);
        if (tiles64 == 0 || tiles64 >= sms) return TensorCoreLaunch.Fixed64;
        long wanted = (sms + tiles64 - 1) / tiles64;
        int slices = (int)Math.Min(Math.Min(wanted, MaxSlices), k / MinSliceK);
        if (slices < 2) return TensorCoreLaunch.Fixed64;
        return new(TensorCoreTileShape.Tile64, SlicesOf(k, SliceLength(k, slices)));
    }

    /// <summary>K per slice for <paramref name="slices"/> slices: whole 32-deep stages, at least one.</summary>
    public static int SliceLength(int k, int slices)
    {
        int perSlice = (k + slices - 1) / Math.Max(slices, 1);
        int stage = TensorCoreTile.TileK;
        return Math.Max(stage, (perSlice + stage - 1) / stage * stage);
    }

    /// <summary>Non-empty slices of length <paramref name="sliceK"/> that cover K (1 for K = 0).</summary>
    public static int SlicesOf(int k, int sliceK) => Math.Max(1, (k + sliceK - 1) / sliceK);

    /// <summary>Output tiles of side <paramref name="tile"/> over batch × M × N.</summary>
    public static long Tiles(int m, int n, int batch, int tile) => (long)((m + tile - 1) / tile) * ((n + tile - 1) / tile) * batch;
}
