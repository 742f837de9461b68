using System.Runtime.CompilerServices;
using ILGPU;
using static DiffusionKernels.Kernels.Gpu.TensorCoreTile;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// The im2col column one thread gathers for every K-slice of a tensor-core convolution: one output pixel of the
/// flattened N·Ho·Wo axis, decoded once per kernel (its stage column, image, and the input row and column of tap (0, 0)).
/// </summary>
internal readonly struct GatherColumn(int stageColumn, int valid, int image, int iyBase, int ixBase)
{
    /// <summary>The pixel's column in the stage (tid mod tile).</summary>
    public readonly int StageColumn = stageColumn;

    /// <summary>1 when the pixel lies inside N·Ho·Wo (its column is zero-filled otherwise).</summary>
    public readonly int Valid = valid;

    /// <summary>The pixel's image and the input coordinates of its tap (0, 0) (negative inside the padding).</summary>
    public readonly int Image = image, IyBase = iyBase, IxBase = ixBase;
}

/// <summary>
/// Stage loading of the TF32 and 3xTF32 implicit-GEMM convolutions, one function for every tile shape (64×64 with 128
/// threads, 128×128 with 256): W[Cout, Cin·kh·kw] rows [m0, m0 + tile) and the im2col columns of pixels
/// [p0, p0 + tile) over k in [k0, k0 + 32), both k-contiguous in <see cref="TensorCoreTile"/>'s layout (A rows, then B
/// columns at bOffset), zero past Cout, the last pixel, <c>kEnd</c> and inside the padding. The tile arguments are
/// constants at every call, so the inlined loops have fixed trip counts; <c>round</c> (TF32-round as staged, or keep
/// fp32 for 3xTF32's split) is constant too.
/// </summary>
internal static class ImplicitGemmStage
{
    /// <summary>Decodes the pixel thread <paramref name="tid"/> gathers: column tid mod <paramref name="tile"/> of the tile starting at pixel <paramref name="p0"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static GatherColumn Column(Conv2dGeometry g, int p0, int tid, int tile)
    {
        int hw = g.OutHeight * g.OutWidth;
        int stageColumn = tid & (tile - 1);
        int pixel = p0 + stageColumn;
        int image = g.OutPixelsDivisor.Divide(pixel), inImage = pixel - image * hw;
        int oy = g.OutWidthDivisor.Divide(inImage), ox = inImage - oy * g.OutWidth;
        return new GatherColumn(stageColumn, pixel < g.Batch * hw ? 1 : 0, image, oy * g.Stride - g.Padding, ox * g.Stride - g.Padding);
    }

    /// <summary>
    /// The im2col rows thread <paramref name="tid"/> gathers from <paramref name="kBegin"/> on: tid / tile, then every
    /// threads / tile rows, across all its K-slices (<see cref="Gather"/> advances it once per row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TapCursor Taps(Conv2dGeometry g, int kBegin, int tid, int tile, int threads)
    {
        var taps = default(TapCursor);
        taps.Start(g, kBegin + tid / tile, threads / tile);
        return taps;
    }

    /// <summary>Stages one K-slice: the weight rows, then the gathered im2col columns (see the class remarks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load(ArrayView<float> shared, ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, Conv2dGeometry g,
        GatherColumn column, ref TapCursor taps, int m0, int k, int k0, int kEnd, int tid, int tile, int threads, int bOffset, bool round)
    {
        // Weight rows: k column tid mod 32 of rows tid / 32 + (threads / 32)·pass (consecutive threads, consecutive k).
        int weightK = tid & (TileK - 1), weightRow = tid / TileK, rowsPerPass = threads / TileK;
        bool kValid = k0 + weightK < kEnd;
        for (int pass = 0; pass < tile / rowsPerPass; pass++)
        {
            int r = weightRow + pass * rowsPerPass, channel = m0 + r;
            shared[r * Pitch + weightK] = kValid && channel < g.OutChannels ? Stage(w[channel * k + k0 + weightK], round) : 0f;
        }
        Gather(shared, x, skip, g, column, ref taps, k0, kEnd, tid, tile, threads, bOffset, round);
    }

    /// <summary>
    /// The im2col gather: k rows tid / tile + (threads / tile)·pass of the thread's pixel column (consecutive threads,
    /// consecutive pixels), each the next row of <paramref name="taps"/>, read through <see cref="ConvGather.LoadTap"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Gather(ArrayView<float> shared, ArrayView<float> x, ArrayView<float> skip, Conv2dGeometry g,
        GatherColumn column, ref TapCursor taps, int k0, int kEnd, int tid, int tile, int threads, int bOffset, bool round)
    {
        int gatherK = tid / tile, kPerPass = threads / tile;
        for (int pass = 0; pass < TileK / kPerPass; pass++)
        {
            int kk = gatherK + pass * kPerPass;
            shared[bOffset + column.StageColumn * Pitch + kk] = column.Valid != 0 && k0 + kk < kEnd
                ? Stage(ConvGather.LoadTap(x, skip, g, column.Image, column.IyBase, column.IxBase, taps), round)
                : 0f;
            taps.Advance(g);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Stage(float v, bool round) => round ? Tf32.Round(v) : v;
}
