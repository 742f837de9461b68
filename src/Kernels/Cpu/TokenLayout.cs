using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Feature maps ↔ token sequences: NCHW [N, C, H·W] ↔ [N, H·W, C], i.e. one matrix transpose per sample. Cache
/// blocked in 32×32 tiles made of 8×8 AVX register transposes; the way back fuses a residual add and an
/// output scale.
/// </summary>
internal static class TokenLayout
{
    private const int Tile = 32;

    /// <summary>y [N, pixels, channels] = x [N, channels, pixels] transposed per sample.</summary>
    public static unsafe void NchwToTokens(ReadOnlySpan<float> x, Span<float> y, int samples, int channels, int pixels)
    {
        long len = (long)samples * channels * pixels;
        fixed (float* px = x, py = y)
            Run(px, py, null, samples, channels, pixels, 1f);
    }

    /// <summary>
    /// y [N, channels, pixels] = (x [N, pixels, channels] transposed + residual) · scale. An empty
    /// <paramref name="residual"/> means none.
    /// </summary>
    public static unsafe void TokensToNchw(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> residual,
        int samples, int channels, int pixels, float scale)
    {
        long len = (long)samples * channels * pixels;
        fixed (float* px = x, py = y, pr = residual)
            Run(px, py, residual.IsEmpty ? null : pr, samples, pixels, channels, scale);
    }

    /// <summary>Per sample: dst [cols, rows] = (src [rows, cols]ᵀ + res [cols, rows]) · scale.</summary>
    private static unsafe void Run(float* src, float* dst, float* res, int samples, int rows, int cols, float scale)
    {
        int rowTiles = (rows + Tile - 1) / Tile;
        long matrix = (long)rows * cols;
        int tasks = samples * rowTiles;
        var job = new Job(src, dst, res, rows, cols, rowTiles, matrix, scale);
        if (matrix * samples < 1 << 16 || tasks == 1 || Environment.ProcessorCount == 1)
        {
            for (int t = 0; t < tasks; t++) Strip(job, t);
            return;
        }
        Parallel.For(0, tasks, t => Strip(job, t));
    }

    private readonly unsafe struct Job(float* src, float* dst, float* res, int rows, int cols, int rowTiles, long matrix, float scale)
    {
        public readonly float* Src = src, Dst = dst, Res = res;
        public readonly int Rows = rows, Cols = cols, RowTiles = rowTiles;
        public readonly long Matrix = matrix;
        public readonly float Scale = scale;
    }

    /// <summary>One strip of up to 32 source rows across all columns, tile by tile.</summary>
    private static unsafe void Strip(Job j, int task)
    {
        int n = task / j.RowTiles, r0 = (task - n * j.RowTiles) * Tile;
        int r1 = Math.Min(r0 + Tile, j.Rows);
        float* src = j.Src + n * j.Matrix, dst = j.Dst + n * j.Matrix;
        float* res = j.Res == null ? null : j.Res + n * j.Matrix;
        bool scaled = j.Scale != 1f;
        for (int c0 = 0; c0 < j.Cols; c0 += Tile)
        {
            int c1 = Math.Min(c0 + Tile, j.Cols);
            int r = r0;
            if (Avx.IsSupported)
            {
                for (; r + 8 <= r1; r += 8)
                {
                    int c = c0;
                    for (; c + 8 <= c1; c += 8) Transpose8x8(src + (long)r * j.Cols + c, j.Cols, dst + (long)c * j.Rows + r, j.Rows, res == null ? null : res + (long)c * j.Rows + r, j.Scale, scaled);
                    Scalar(src, dst, res, j.Rows, j.Cols, r, r + 8, c, c1, j.Scale, scaled);
                }
            }
            Scalar(src, dst, res, j.Rows, j.Cols, r, r1, c0, c1, j.Scale, scaled);
        }
    }

    private static unsafe void Scalar(float* src, float* dst, float* res, int rows, int cols, int r0, int r1, int c0, int c1, float scale, bool scaled)
    {
        for (int c = c0; c < c1; c++)
            for (int r = r0; r < r1; r++)
            {
                float v = src[(long)r * cols + c];
                long at = (long)c * rows + r;
                if (res != null) v += res[at];
                dst[at] = scaled ? v * scale : v;
            }
    }

    /// <summary>An 8×8 block transposed in registers (unpack, shuffle, lane permute), with the fused epilogue.</summary>
    private static unsafe void Transpose8x8(float* s, int lds, float* d, int ldd, float* res, float scale, bool scaled)
    {
        var r0 = Avx.LoadVector256(s);
        var r1 = Avx.LoadVector256(s + lds);
        var r2 = Avx.LoadVector256(s + 2 * lds);
        var r3 = Avx.LoadVector256(s + 3 * lds);
        var r4 = Avx.LoadVector256(s + 4 * lds);
        var r5 = Avx.LoadVector256(s + 5 * lds);
        var r6 = Avx.LoadVector256(s + 6 * lds);
        var r7 = Avx.LoadVector256(s + 7 * lds);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Store(d, res, 0, ldd, Avx.Permute2x128(u0, u4, 0x20), scale, scaled);
        Store(d, res, 1, ldd, Avx.Permute2x128(u1, u5, 0x20), scale, scaled);
        Store(d, res, 2, ldd, Avx.Permute2x128(u2, u6, 0x20), scale, scaled);
        Store(d, res, 3, ldd, Avx.Permute2x128(u3, u7, 0x20), scale, scaled);
        Store(d, res, 4, ldd, Avx.Permute2x128(u0, u4, 0x31), scale, scaled);
        Store(d, res, 5, ldd, Avx.Permute2x128(u1, u5, 0x31), scale, scaled);
        Store(d, res, 6, ldd, Avx.Permute2x128(u2, u6, 0x31), scale, scaled);
        Store(d, res, 7, ldd, Avx.Permute2x128(u3, u7, 0x31), scale, scaled);
    }

    private static unsafe void Store(float* d, float* res, int row, int ldd, Vector256<float> v, float scale, bool scaled)
    {
        long at = (long)row * ldd;
        if (res != null) v = Avx.Add(v, Avx.LoadVector256(res + at));
        if (scaled) v = Avx.Multiply(v, Vector256.Create(scale));
        Avx.Store(d + at, v);
    }
}
