using System.Runtime.CompilerServices;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// 3×3 stride-1 convolution by Winograd F(2×2, 3×3): each 2×2 output tile costs 16 multiplies per channel pair instead
/// of 36, so the GEMM work falls 2.25×. Per block of tiles: the input patches are transformed (V = Bᵀ·d·B) straight
/// into the micro-kernel's B panels, 16 GEMMs multiply them by the pre-transformed, pre-packed weights
/// (<see cref="WinogradWeights"/>), and the output transform (Aᵀ·m·A) adds bias and residual as it writes y.
/// </summary>
/// <remarks>
/// fp32 error: the F(2,3) transforms only add, subtract and halve (exact in binary), so the result differs from the
/// direct sum by rounding of a few more terms; measured against the direct convolution it stays within ~1e-6 of the
/// output scale (see the twin tests). Work items are (block of tiles, range of output channels), as in
/// <see cref="ImplicitGemmConv2d"/>; tiles run across images, so small images at batch 16 still fill whole panels.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class WinogradConv2d
{
    // Transformed input kept per block ≈ 16 · tiles · cin floats; aim for ~512 KiB so V and the block's products stay in L2.
    private const int TargetBlockFloats = 128 * 1024;
    private const int MaxBlockTiles = 128;
    private const double ParallelMinFlops = 4e6;

    /// <summary>
    /// Whether a call has enough 2×2 tiles (over the whole batch) to fill two micro-kernel panels: below that the
    /// 16 Winograd GEMMs run mostly on zero columns and the implicit GEMM over pixels does less work (4×4 and 8×8
    /// images at batch 1).
    /// </summary>
    public static bool FillsPanels(int batch, int ho, int wo) => (long)batch * ((ho + 1) / 2) * ((wo + 1) / 2) >= 2 * Sgemm.NR;

    /// <summary>
    /// y = (conv2d(x, w, stride 1, padding) + bias + residual) · outputScale for a 3×3 kernel. x [batch, cin, h, width],
    /// bias [cout] or empty, residual and y [batch, cout, ho, wo] (residual empty for none; it may be y itself).
    /// Padding is applied on the top and left; taps past the bottom/right edge (as implied by ho, wo) read zero.
    /// </summary>
    /// <exception cref="ArgumentException">The weights are not [cout, cin, 3, 3].</exception>
    public static void Forward(ReadOnlySpan<float> x, WinogradWeights w, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> residual, Span<float> y, int batch, int cin, int h, int width, int cout, int ho, int wo,
        int padding, float outputScale)
    {
        if (w.OutChannels != cout || w.InChannels != cin)
            throw new ArgumentException($"conv2d: winograd weights are [{w.OutChannels}, {w.InChannels}, 3, 3], the call needs [{cout}, {cin}, 3, 3]", nameof(w));
        if (batch <= 0 || cout <= 0 || ho <= 0 || wo <= 0) return;
        fixed (float* px = x, pw = w.Data, pb = bias, pr = residual, py = y)
        {
            var job = new Job(px, pw, w.MatrixLength, bias.IsEmpty ? null : pb, residual.IsEmpty ? null : pr, py,
                batch, cin, h, width, cout, ho, wo, padding, outputScale);
            double flops = 2.0 * batch * cout * ho * wo * cin * 9;
            int workers = flops < ParallelMinFlops ? 1 : Math.Min(Environment.ProcessorCount, job.Items);
            if (workers <= 1)
            {
                int next = 0;
                job.Work(ref next);
                return;
            }
            if (!job.SplitsChannels)
            {
                var queue = new WorkQueue(job);
                Parallel.For(0, workers, _ => queue.Job.Work(ref queue.Next));
                return;
            }
            // Items split over output channels would each transform the same input tiles: transform every block
            // once (split over input channels, so one block still feeds every core), then multiply from it.
            job.SharedV = Scratch.Shared(job.SharedVFloats);
            var transformQueue = new WorkQueue(job);
            Parallel.For(0, workers, _ => transformQueue.Job.Transform(ref transformQueue.Next));
            var multiplyQueue = new WorkQueue(job);
            Parallel.For(0, workers, _ => multiplyQueue.Job.Work(ref multiplyQueue.Next));
        }
    }

    private sealed class WorkQueue(Job job)
    {
        public readonly Job Job = job;
        public int Next;
    }

    /// <summary>Each worker's transformed-input and product buffers, pinned and 64-byte aligned, kept between calls.</summary>
    private static class Scratch
    {
        [ThreadStatic] private static float[]? _v, _m, _shared;

        public static float* V(int floats) => Get(ref _v, floats);
        public static float* M(int floats) => Get(ref _m, floats);

        /// <summary>The calling thread's buffer for the transformed input all workers of one call share.</summary>
        public static float* Shared(long floats) => Get(ref _shared, checked((int)floats));

        private static float* Get(ref float[]? buffer, int floats)
        {
            if (buffer is null || buffer.Length < floats + 16)
                buffer = GC.AllocateUninitializedArray<float>(floats + 16, pinned: true);
            nint p = (nint)Unsafe.AsPointer(ref buffer[0]);
            return (float*)((p + 63) & ~(nint)63);
        }
    }

    private struct Job
    {
        // Input channels per transform item when the transformed input is shared.
        private const int TransformChannels = 32;

        private readonly float* _x, _w, _bias, _residual, _y;
        private readonly int _matrix, _cin, _h, _width, _cout, _ho, _wo, _padding;
        private readonly int _tilesY, _tilesX, _tilesPerImage, _totalTiles, _blockTiles, _blockCols, _blocks;
        private readonly int _rowChunks, _rowsPerChunk;
        private readonly float _scale;

        public Job(float* x, float* w, int matrix, float* bias, float* residual, float* y, int batch, int cin, int h,
            int width, int cout, int ho, int wo, int padding, float scale)
        {
            _x = x; _w = w; _matrix = matrix; _bias = bias; _residual = residual; _y = y;
            (_cin, _h, _width, _cout, _ho, _wo, _padding, _scale) = (cin, h, width, cout, ho, wo, padding, scale);
            _tilesY = (ho + 1) / 2;
            _tilesX = (wo + 1) / 2;
            _tilesPerImage = _tilesY * _tilesX;
            _totalTiles = checked(batch * _tilesPerImage);
            int nr = Sgemm.NR, mr = Sgemm.MR;
            int target = Math.Clamp(TargetBlockFloats / (16 * cin) / nr * nr, nr, MaxBlockTiles);
            _blocks = (_totalTiles + target - 1) / target;
            _blockTiles = (_totalTiles + _blocks - 1) / _blocks;
            _blockTiles = (_blockTiles + nr - 1) / nr * nr;
            _blocks = (_totalTiles + _blockTiles - 1) / _blockTiles;
            _blockCols = _blockTiles;
            int rowPanels = PackedConvWeights.PaddedRows(cout) / mr;
            int want = 2 * Environment.ProcessorCount;
            _rowChunks = _blocks >= want ? 1 : Math.Min(rowPanels, (want + _blocks - 1) / _blocks);
            _rowsPerChunk = (rowPanels + _rowChunks - 1) / _rowChunks * mr;
            _rowChunks = (PackedConvWeights.PaddedRows(cout) + _rowsPerChunk - 1) / _rowsPerChunk;
            Items = _blocks * _rowChunks;
            _channelChunks = (cin + TransformChannels - 1) / TransformChannels;
        }

        private readonly int _channelChunks;

        public int Items { get; }

        /// <summary>Whether items split the output channels (then <see cref="Transform"/> transforms the input once for all).</summary>
        public readonly bool SplitsChannels => _rowChunks > 1;

        /// <summary>Floats of every block's transformed input.</summary>
        public readonly long SharedVFloats => 16L * _blockCols * _cin * _blocks;

        /// <summary>Where <see cref="Transform"/> leaves every block's V; null when every item transforms its own.</summary>
        public float* SharedV;

        private readonly float* SharedBlock(int block) => SharedV + 16L * _blockCols * _cin * block;

        /// <summary>Transforms (block, range of input channels) items into the shared V until none are left.</summary>
        public readonly void Transform(ref int next)
        {
            for (int item = Interlocked.Increment(ref next) - 1; item < _blocks * _channelChunks; item = Interlocked.Increment(ref next) - 1)
            {
                int block = item / _channelChunks, c0 = item % _channelChunks * TransformChannels;
                int t0 = block * _blockTiles;
                TransformInput(t0, Math.Min(_blockTiles, _totalTiles - t0), SharedBlock(block), c0, Math.Min(_cin, c0 + TransformChannels));
            }
        }

        public readonly void Work(ref int next)
        {
            float* v = SharedV is null ? Scratch.V(16 * _blockCols * _cin) : null;
            float* m = Scratch.M(16 * _rowsPerChunk * _blockCols);
            for (int item = Interlocked.Increment(ref next) - 1; item < Items; item = Interlocked.Increment(ref next) - 1)
            {
                int block = item / _rowChunks, chunk = item % _rowChunks;
                int t0 = block * _blockTiles, tiles = Math.Min(_blockTiles, _totalTiles - t0);
                int row0 = chunk * _rowsPerChunk, row1 = Math.Min(_cout, row0 + _rowsPerChunk);
                if (row0 >= _cout) continue;
                float* blockV = SharedV is null ? v : SharedBlock(block);
                if (SharedV is null) TransformInput(t0, tiles, blockV, 0, _cin);
                Multiply(tiles, row0, row1, blockV, m);
                TransformOutput(t0, tiles, row0, row1, m);
            }
        }

        /// <summary>
        /// V = Bᵀ·d·B for input channels [c0, c1) and every tile of the block, written as 16 B-operand matrices
        /// [cin, tiles] in NR-wide panels: v[ξ][panel][ci][c]. Columns past the last tile are zero.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void TransformInput(int t0, int tiles, float* v, int c0, int c1)
        {
            int nr = Sgemm.NR;
            long xiStride = (long)_blockCols * _cin, plane = (long)_h * _width;
            float* d = stackalloc float[16];
            float* zeros = stackalloc float[EdgeRow];
            new Span<float>(zeros, EdgeRow).Clear();
            float* edges = stackalloc float[4 * EdgeRow];
            for (int t = 0; t < _blockCols; t++)
            {
                float* col = v + (long)(t / nr) * _cin * nr + t % nr + (long)c0 * nr;
                if (t >= tiles)
                {
                    for (int ci = 0; ci < c1 - c0; ci++)
                        for (int xi = 0; xi < 16; xi++) col[xi * xiStride + (long)ci * nr] = 0;
                    continue;
                }
                int g = t0 + t, image = g / _tilesPerImage, r = g - image * _tilesPerImage;
                int ty = r / _tilesX, tx = r - ty * _tilesX;
                if (WinogradTiles8.IsSupported && (t & 7) == 0 && t + 8 <= tiles && tx + 8 <= _tilesX)
                {
                    InputTiles8(image, ty, tx, c0, c1, col, xiStride, zeros, edges);
                    t += 7;
                    continue;
                }
                int iy0 = 2 * ty - _padding, ix0 = 2 * tx - _padding;
                bool inside = iy0 >= 0 && ix0 >= 0 && iy0 + 4 <= _h && ix0 + 4 <= _width;
                float* xImage = _x + (long)image * _cin * plane;
                for (int ci = c0; ci < c1; ci++, col += nr)
                {
                    float* src = xImage + ci * plane + (long)iy0 * _width + ix0;
                    if (inside)
                        for (int i = 0; i < 4; i++)
                        {
                            float* s = src + (long)i * _width;
                            d[4 * i] = s[0]; d[4 * i + 1] = s[1]; d[4 * i + 2] = s[2]; d[4 * i + 3] = s[3];
                        }
                    else
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++)
                            {
                                int iy = iy0 + i, ix = ix0 + j;
                                d[4 * i + j] = (uint)iy < (uint)_h && (uint)ix < (uint)_width ? src[(long)i * _width + j] : 0f;
                            }
                    // Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], applied to columns then rows.
                    for (int j = 0; j < 4; j++)
                    {
                        float a0 = d[j], a1 = d[4 + j], a2 = d[8 + j], a3 = d[12 + j];
                        d[j] = a0 - a2; d[4 + j] = a1 + a2; d[8 + j] = a2 - a1; d[12 + j] = a1 - a3;
                    }
                    for (int i = 0; i < 4; i++)
                    {
                        float a0 = d[4 * i], a1 = d[4 * i + 1], a2 = d[4 * i + 2], a3 = d[4 * i + 3];
                        float* o = col + (long)(4 * i) * xiStride;
                        o[0] = a0 - a2;
                        o[xiStride] = a1 + a2;
                        o[2 * xiStride] = a2 - a1;
                        o[3 * xiStride] = a1 - a3;
                    }
                }
            }
        }

        // Floats of one input row that 8 adjacent tiles read (18), rounded up for the edge copies.
        private const int EdgeRow = 24;

        /// <summary>
        /// <see cref="TransformInput"/> for 8 adjacent tiles of one tile row (block columns t … t + 7, contiguous in
        /// their panel), channels [c0, c1): rows inside the image are read in place, rows crossing an edge are copied
        /// into <paramref name="edges"/> with zeros for the padding.
        /// </summary>
        private readonly void InputTiles8(int image, int ty, int tx, int c0, int c1, float* col, long xiStride, float* zeros, float* edges)
        {
            int nr = Sgemm.NR;
            long plane = (long)_h * _width;
            int iy0 = 2 * ty - _padding, ix0 = 2 * tx - _padding;
            bool xInside = ix0 >= 0 && ix0 + 18 <= _width;
            float* xImage = _x + (long)image * _cin * plane;
            for (int ci = c0; ci < c1; ci++, col += nr)
            {
                float* src = xImage + ci * plane;
                WinogradTiles8.Input(InputRow(src, iy0, ix0, xInside, zeros, edges), InputRow(src, iy0 + 1, ix0, xInside, zeros, edges + EdgeRow),
                    InputRow(src, iy0 + 2, ix0, xInside, zeros, edges + 2 * EdgeRow), InputRow(src, iy0 + 3, ix0, xInside, zeros, edges + 3 * EdgeRow),
                    col, xiStride);
            }
        }

        /// <summary>Input row iy from column ix0 on, 18 floats: in place, or copied into <paramref name="edge"/> with zero padding.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly float* InputRow(float* channel, int iy, int ix0, bool xInside, float* zeros, float* edge)
        {
            if ((uint)iy >= (uint)_h) return zeros;
            float* row = channel + (long)iy * _width;
            if (xInside) return row + ix0;
            for (int j = 0; j < 18; j++)
                edge[j] = (uint)(ix0 + j) < (uint)_width ? row[ix0 + j] : 0f;
            return edge;
        }

        /// <summary>m[ξ][co − row0][t] = Σci U[ξ][co][ci] · v[ξ][ci][t] for the chunk's output channels.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Multiply(int tiles, int row0, int row1, float* v, float* m)
        {
            int nr = Sgemm.NR, mr = Sgemm.MR, kcMax = Sgemm.KC;
            long xiStride = (long)_blockCols * _cin;
            for (int xi = 0; xi < 16; xi++)
            {
                float* vx = v + xi * xiStride;
                float* mx = m + (long)xi * _rowsPerChunk * _blockCols;
                float* ux = _w + (long)xi * _matrix;
                for (int pc = 0; pc < _cin; pc += kcMax)
                {
                    int kc = Math.Min(kcMax, _cin - pc);
                    float beta = pc == 0 ? 0f : 1f;
                    float* aBlock = ux + PackedConvWeights.Offset(_cout, pc, row0, kc);
                    for (int j = 0; j < tiles; j += nr)
                    {
                        int cols = Math.Min(nr, tiles - j);
                        float* b = vx + (long)j * _cin + (long)pc * nr;
                        for (int row = row0; row < row1; row += mr)
                        {
                            int rows = Math.Min(mr, row1 - row);
                            Sgemm.Tile(kc, aBlock + (long)(row - row0) * kc, b, mx + (long)(row - row0) * _blockCols + j, _blockCols, 1f, beta, rows, cols);
                        }
                    }
                }
            }
        }

        /// <summary>y = scale · (Aᵀ·m·A + bias + residual) on each tile's 2×2 outputs that exist.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void TransformOutput(int t0, int tiles, int row0, int row1, float* m)
        {
            long xiStride = (long)_rowsPerChunk * _blockCols, hw = (long)_ho * _wo;
            for (int t = 0; t < tiles; t++)
            {
                int g = t0 + t, image = g / _tilesPerImage, r = g - image * _tilesPerImage;
                int ty = r / _tilesX, tx = r - ty * _tilesX;
                int oy = 2 * ty, ox = 2 * tx;
                bool fullY = oy + 1 < _ho, fullX = ox + 1 < _wo;
                long outBase = (long)image * _cout * hw + (long)oy * _wo + ox;
                if (WinogradTiles8.IsSupported && (t & 7) == 0 && t + 8 <= tiles && tx + 8 <= _tilesX && fullY && ox + 15 < _wo)
                {
                    // 8 adjacent whole tiles: both output rows of each channel as 16 contiguous pixels.
                    for (int co = row0; co < row1; co++)
                    {
                        long o = outBase + co * hw;
                        WinogradTiles8.Output(m + (long)(co - row0) * _blockCols + t, xiStride, _bias is null ? 0f : _bias[co],
                            _residual is null ? null : _residual + o, _residual is null ? null : _residual + o + _wo, _y + o, _y + o + _wo, _scale);
                    }
                    t += 7;
                    continue;
                }
                for (int co = row0; co < row1; co++)
                {
                    float* s = m + (long)(co - row0) * _blockCols + t;
                    // Aᵀ = [1 1 1 0; 0 1 −1 −1]: rows first (4 → 2), then columns.
                    float r00 = s[0] + s[4 * xiStride] + s[8 * xiStride], r10 = s[4 * xiStride] - s[8 * xiStride] - s[12 * xiStride];
                    float r01 = s[xiStride] + s[5 * xiStride] + s[9 * xiStride], r11 = s[5 * xiStride] - s[9 * xiStride] - s[13 * xiStride];
                    float r02 = s[2 * xiStride] + s[6 * xiStride] + s[10 * xiStride], r12 = s[6 * xiStride] - s[10 * xiStride] - s[14 * xiStride];
                    float r03 = s[3 * xiStride] + s[7 * xiStride] + s[11 * xiStride], r13 = s[7 * xiStride] - s[11 * xiStride] - s[15 * xiStride];
                    float b = _bias is null ? 0f : _bias[co];
                    long o = outBase + co * hw;
                    Put(o, r00 + r01 + r02 + b);
                    if (fullX) Put(o + 1, r01 - r02 - r03 + b);
                    if (fullY)
                    {
                        Put(o + _wo, r10 + r11 + r12 + b);
                        if (fullX) Put(o + _wo + 1, r11 - r12 - r13 + b);
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Put(long i, float value) => _y[i] = (_residual is null ? value : value + _residual[i]) * _scale;
    }
}
