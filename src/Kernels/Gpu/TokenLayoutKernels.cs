using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Feature maps ↔ token sequences ([N, C, H·W] ↔ [N, H·W, C]) as per-sample transposes through a shared-memory
/// tile of warp × warp floats (one padding column against bank conflicts), so reads and writes are both
/// coalesced. The way back fuses a residual add and an output scale. Tiles of all samples are numbered along the
/// grid's x dimension alone (y and z hold at most 65,535 groups on CUDA, fewer than the pixel tiles of a large image).
/// </summary>
internal sealed class TokenLayoutKernels
{
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, TransposeShape> _kernel;
    private readonly int _tile, _rowsPerPass;

    /// <summary>Loads the kernel on <paramref name="accelerator"/>.</summary>
    public TokenLayoutKernels(Accelerator accelerator)
    {
        _kernel = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, TransposeShape>(Transpose);
        _tile = accelerator.WarpSize;
        _rowsPerPass = Math.Max(1, Math.Min(8, accelerator.MaxNumThreadsPerGroup / _tile));
    }

    /// <summary>y [N, pixels, channels] = x [N, channels, pixels] transposed per sample.</summary>
    public void NchwToTokens(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int samples, int channels, int pixels) =>
        Launch(stream, x, y, y, samples, channels, pixels, hasResidual: false, 1f);

    /// <summary>y [N, channels, pixels] = (x [N, pixels, channels] transposed + residual) · scale; residual is optional.</summary>
    public void TokensToNchw(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, ArrayView<float>? residual,
        int samples, int channels, int pixels, float scale) =>
        Launch(stream, x, y, residual ?? y, samples, pixels, channels, residual.HasValue, scale);

    private void Launch(AcceleratorStream stream, ArrayView<float> src, ArrayView<float> dst, ArrayView<float> res,
        int samples, int rows, int cols, bool hasResidual, float scale)
    {
        if ((long)samples * rows * cols == 0) return;
        var shape = new TransposeShape
        {
            Rows = rows,
            Cols = cols,
            HasResidual = hasResidual ? 1 : 0,
            Scale = scale,
            Tile = _tile,
            TilesX = (cols + _tile - 1) / _tile,
            TilesY = (rows + _tile - 1) / _tile,
        };
        long groups = (long)shape.TilesX * shape.TilesY * samples;
        if (groups > int.MaxValue) throw new ArgumentException($"token layout: {samples}×{rows}×{cols} needs {groups} tiles, more than one launch holds");
        var group = new Index3D(_tile, _rowsPerPass, 1);
        _kernel(LaunchCounter.Count(stream), new KernelConfig(new Index3D((int)groups, 1, 1), group, SharedMemoryConfig.RequestDynamic<float>(_tile * (_tile + 1))), src, dst, res, shape);
    }

    /// <summary>One launch: per sample dst [Cols, Rows] = (src [Rows, Cols]ᵀ + res) · Scale.</summary>
    public struct TransposeShape
    {
        /// <summary>Source rows and columns of one sample.</summary>
        public int Rows, Cols;
        /// <summary>1 when res holds a residual in the destination layout.</summary>
        public int HasResidual;
        /// <summary>Output scale.</summary>
        public float Scale;
        /// <summary>Tile edge (the warp size).</summary>
        public int Tile;
        /// <summary>Tiles along the source columns and rows of one sample.</summary>
        public int TilesX, TilesY;
    }

    private static void Transpose(ArrayView<float> src, ArrayView<float> dst, ArrayView<float> res, TransposeShape s)
    {
        var tile = SharedMemory.GetDynamic<float>();
        int edge = s.Tile, ld = edge + 1;
        int tileRow = Grid.IdxX / s.TilesX;            // (sample, tile row) pair
        int sampleIndex = tileRow / s.TilesY;
        long sample = (long)sampleIndex * s.Rows * s.Cols;
        int c0 = (Grid.IdxX - tileRow * s.TilesX) * edge, r0 = (tileRow - sampleIndex * s.TilesY) * edge;
        int tx = Group.IdxX, ty = Group.IdxY, step = Group.DimY;
        // Read rows of the source tile (consecutive threads, consecutive columns).
        for (int i = ty; i < edge; i += step)
        {
            int r = r0 + i, c = c0 + tx;
            if (r < s.Rows && c < s.Cols) tile[i * ld + tx] = src[sample + (long)r * s.Cols + c];
        }
        Group.Barrier();
        // Write rows of the destination tile: destination row c, column r.
        for (int i = ty; i < edge; i += step)
        {
            int c = c0 + i, r = r0 + tx;
            if (c >= s.Cols || r >= s.Rows) continue;
            long at = sample + (long)c * s.Rows + r;
            float value = tile[tx * ld + i];
            dst[at] = s.HasResidual != 0 ? (value + res[at]) * s.Scale : value * s.Scale;
        }
    }
}
