using System.Numerics;
using System.Runtime.CompilerServices;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// 2-D convolution (PyTorch cross-correlation, NCHW) as an implicit GEMM: y[co, p] = Σ_k w[co, k] · x(k, p), with
/// k = (ci, ky, kx) and p an output pixel, where the unfolded input x(k, p) is never written out whole. The weights
/// come pre-packed in the micro-kernel's A-panel layout (<see cref="PackedConvWeights"/>, built once per model), and
/// the input taps are gathered straight into the micro-kernel's B panels (im2col fused into the packing), one depth
/// block by one pixel block at a time, so every float of input is copied once per block, into L2-resident panels.
/// </summary>
/// <remarks>
/// Work items are (image, block of pixels, range of output channels); threads take them from a shared counter. Small
/// images at batch 1 (few pixel blocks) are also split over output channels, so no core idles. A 1×1 stride-1 conv
/// packs rows of the input directly (a plain GEMM on NCHW); stride 2 gathers every other input pixel.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class ImplicitGemmConv2d
{
    // Pixel panels (of Sgemm.NR) per block: 8 × 32 pixels × KC 192 × 4 B = 192 KiB of B, which stays in L2 beside the
    // weights' depth block while every output-channel panel passes over it.
    private const int PanelsPerBlock = 8;
    // Below this many flops the thread hand-off costs more than it saves.
    private const double ParallelMinFlops = 4e6;

    /// <summary>
    /// y = (conv2d(x, w) + bias + residual) · outputScale, packing <paramref name="w"/> [cout, cin, kh, kw] for this
    /// call only (use the <see cref="PackedConvWeights"/> overload for weights used more than once).
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> residual, Span<float> y,
        int batch, int cin, int h, int width, int cout, int kh, int kw, int ho, int wo,
        int stride, int padding, float outputScale)
    {
        if (batch <= 0 || cout <= 0 || ho <= 0 || wo <= 0) return;
        int depth = cin * kh * kw;
        var packed = WeightScratch.Get(PackedConvWeights.Length(cout, depth));
        PackedConvWeights.Pack(w, cout, depth, packed);
        Run(x, packed, bias, residual, y, batch, cin, h, width, cout, kh, kw, ho, wo, stride, padding, outputScale);
    }

    /// <summary>
    /// y = (conv2d(x, w) + bias + residual) · outputScale with pre-packed weights. x [batch, cin, h, width],
    /// bias [cout] or empty, residual and y [batch, cout, ho, wo] (residual empty for none; it may be y itself).
    /// Padding is applied on the top and left; taps past the bottom/right edge (as implied by ho, wo) read zero.
    /// </summary>
    /// <exception cref="ArgumentException">The packed weights are not [cout, cin·kh·kw].</exception>
    public static void Forward(ReadOnlySpan<float> x, PackedConvWeights w, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> residual, Span<float> y,
        int batch, int cin, int h, int width, int cout, int kh, int kw, int ho, int wo,
        int stride, int padding, float outputScale)
    {
        if (w.OutChannels != cout || w.Depth != cin * kh * kw)
            throw new ArgumentException($"conv2d: packed weights are [{w.OutChannels}, {w.Depth}], the call needs [{cout}, {cin * kh * kw}]", nameof(w));
        if (batch <= 0 || cout <= 0 || ho <= 0 || wo <= 0) return;
        Run(x, w.Data, bias, residual, y, batch, cin, h, width, cout, kh, kw, ho, wo, stride, padding, outputScale);
    }

    /// <summary>
    /// <see cref="Forward(ReadOnlySpan{float}, PackedConvWeights, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, int, int, int, int, int, int, int, int, float)"/>
    /// of cat(x, skip) along channels, gathered from both inputs: x [batch, cin − skipChannels, h, width] holds input
    /// channels [0, cin − skipChannels), skip [batch, skipChannels, h, width] the rest. The panels hold the values a
    /// concatenated input would give them, so the result has the same bits.
    /// </summary>
    public static void ForwardOfConcat(ReadOnlySpan<float> x, ReadOnlySpan<float> skip, int skipChannels, PackedConvWeights w,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> residual, Span<float> y,
        int batch, int cin, int h, int width, int cout, int kh, int kw, int ho, int wo, int stride, int padding, float outputScale)
    {
        if (w.OutChannels != cout || w.Depth != cin * kh * kw)
            throw new ArgumentException($"conv2d: packed weights are [{w.OutChannels}, {w.Depth}], the call needs [{cout}, {cin * kh * kw}]", nameof(w));
        if (batch <= 0 || cout <= 0 || ho <= 0 || wo <= 0) return;
        Run(x, w.Data, bias, residual, y, batch, cin, h, width, cout, kh, kw, ho, wo, stride, padding, outputScale, skip, skipChannels);
    }

    /// <summary>The concat overload with <paramref name="w"/> [cout, cin, kh, kw] packed for this call only.</summary>
    public static void ForwardOfConcat(ReadOnlySpan<float> x, ReadOnlySpan<float> skip, int skipChannels, ReadOnlySpan<float> w,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> residual, Span<float> y,
        int batch, int cin, int h, int width, int cout, int kh, int kw, int ho, int wo, int stride, int padding, float outputScale)
    {
        if (batch <= 0 || cout <= 0 || ho <= 0 || wo <= 0) return;
        int depth = cin * kh * kw;
        var packed = WeightScratch.Get(PackedConvWeights.Length(cout, depth));
        PackedConvWeights.Pack(w, cout, depth, packed);
        Run(x, packed, bias, residual, y, batch, cin, h, width, cout, kh, kw, ho, wo, stride, padding, outputScale, skip, skipChannels);
    }

    private static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> packedW, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> residual, Span<float> y,
        int batch, int cin, int h, int width, int cout, int kh, int kw, int ho, int wo,
        int stride, int padding, float outputScale, ReadOnlySpan<float> skip = default, int skipChannels = 0)
    {
        fixed (float* px = x, pw = packedW, pb = bias, pr = residual, py = y, ps = skip)
        {
            var job = new Job(px, pw, bias.IsEmpty ? null : pb, residual.IsEmpty ? null : pr, py,
                batch, cin, h, width, cout, kh, kw, ho, wo, stride, padding, outputScale, ps, skipChannels);
            double flops = 2.0 * batch * cout * ho * wo * cin * kh * kw;
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
            // Items split over output channels would each gather the same input panels: gather them once, shared
            // (every depth block of every pixel block, in parallel), then let the items multiply from them.
            job.SharedPanels = SharedPanelScratch.Get(job.SharedPanelFloats);
            var packQueue = new WorkQueue(job);
            Parallel.For(0, Math.Min(workers, job.PackItems), _ => packQueue.Job.Pack(ref packQueue.Next));
            var multiplyQueue = new WorkQueue(job);
            Parallel.For(0, workers, _ => multiplyQueue.Job.Work(ref multiplyQueue.Next));
        }
    }

    /// <summary>The calling thread's buffer for weights packed per call.</summary>
    private static class WeightScratch
    {
        [ThreadStatic] private static float[]? _buffer;

        public static Span<float> Get(int floats) =>
            (_buffer is { } b && b.Length >= floats ? b : _buffer = GC.AllocateUninitializedArray<float>(floats)).AsSpan(0, floats);
    }

    /// <summary>Each worker's B-panel buffer, pinned and 64-byte aligned, kept between calls.</summary>
    private static class PanelScratch
    {
        [ThreadStatic] private static float[]? _buffer;

        public static float* Get(int floats)
        {
            if (_buffer is null || _buffer.Length < floats + 16)
                _buffer = GC.AllocateUninitializedArray<float>(floats + 16, pinned: true);
            nint p = (nint)Unsafe.AsPointer(ref _buffer[0]);
            return (float*)((p + 63) & ~(nint)63);
        }
    }

    /// <summary>The calling thread's buffer for input panels shared by all workers of one call, 64-byte aligned.</summary>
    private static class SharedPanelScratch
    {
        [ThreadStatic] private static float[]? _buffer;

        public static float* Get(long floats)
        {
            if (_buffer is null || _buffer.Length < floats + 16)
                _buffer = GC.AllocateUninitializedArray<float>(checked((int)floats + 16), pinned: true);
            nint p = (nint)Unsafe.AsPointer(ref _buffer[0]);
            return (float*)((p + 63) & ~(nint)63);
        }
    }

    private sealed class WorkQueue(Job job)
    {
        public readonly Job Job = job;
        public int Next;
    }

    /// <summary>One convolution call: pointers and sizes, split into (image, pixel block, channel range) items.</summary>
    private struct Job
    {
        private readonly float* _x, _w, _bias, _residual, _y, _skip;
        // Input channels [0, _xChannels) are read from _x, the rest from _skip (a concat read in place).
        private readonly int _xChannels;
        private readonly int _cin, _h, _width, _cout, _kh, _kw, _wo, _stride, _padding;
        private readonly int _hw, _depth, _paddedRows, _blockPixels, _blocksPerImage, _rowChunks, _rowsPerChunk;
        private readonly float _scale;
        private readonly bool _pointwise;
        private readonly int _depthBlocks;

        public Job(float* x, float* w, float* bias, float* residual, float* y, int batch, int cin, int h, int width,
            int cout, int kh, int kw, int ho, int wo, int stride, int padding, float scale, float* skip, int skipChannels)
        {
            _x = x; _w = w; _bias = bias; _residual = residual; _y = y; _skip = skip;
            _xChannels = cin - skipChannels;
            (_cin, _h, _width, _cout, _kh, _kw, _wo, _stride, _padding, _scale) = (cin, h, width, cout, kh, kw, wo, stride, padding, scale);
            _hw = ho * wo;
            _depth = cin * kh * kw;
            _paddedRows = PackedConvWeights.PaddedRows(cout);
            _pointwise = kh == 1 && kw == 1 && stride == 1 && padding == 0 && ho == h && wo == width;

            int nr = Sgemm.NR, mr = Sgemm.MR;
            int panels = (_hw + nr - 1) / nr;
            _blocksPerImage = (panels + PanelsPerBlock - 1) / PanelsPerBlock;
            _blockPixels = (panels + _blocksPerImage - 1) / _blocksPerImage * nr;
            _blocksPerImage = (_hw + _blockPixels - 1) / _blockPixels;
            // Too few pixel blocks to keep every core busy (small images at batch 1): split the output channels too,
            // aiming at two items per core so uneven items still balance.
            int pixelItems = batch * _blocksPerImage;
            int rowPanels = _paddedRows / mr;
            int want = 2 * Environment.ProcessorCount;
            _rowChunks = pixelItems >= want ? 1 : Math.Min(rowPanels, (want + pixelItems - 1) / pixelItems);
            _rowsPerChunk = (rowPanels + _rowChunks - 1) / _rowChunks * mr;
            _rowChunks = (_paddedRows + _rowsPerChunk - 1) / _rowsPerChunk;
            Items = pixelItems * _rowChunks;
            _depthBlocks = (_depth + Sgemm.KC - 1) / Sgemm.KC;
            PackItems = pixelItems * _depthBlocks;
        }

        public int Items { get; }

        /// <summary>Whether items split the output channels (then <see cref="Pack"/> gathers the input once for all).</summary>
        public readonly bool SplitsChannels => _rowChunks > 1;

        /// <summary>(pixel block, depth block) pairs for <see cref="Pack"/>.</summary>
        public int PackItems { get; }

        /// <summary>Floats of every pixel block's full-depth input panels.</summary>
        public readonly long SharedPanelFloats => (long)PackItems / _depthBlocks * _depth * _blockPixels;

        /// <summary>Where <see cref="Pack"/> leaves the input panels; null when every item packs its own.</summary>
        public float* SharedPanels;

        /// <summary>Pixel block <paramref name="pixelItem"/>'s panels for depth block <paramref name="pc"/> in the shared buffer.</summary>
        private readonly float* SharedBlock(int pixelItem, int pc) => SharedPanels + ((long)pixelItem * _depth + pc) * _blockPixels;

        /// <summary>Gathers (pixel block, depth block) items into the shared panels until none are left.</summary>
        public readonly void Pack(ref int next)
        {
            for (int item = Interlocked.Increment(ref next) - 1; item < PackItems; item = Interlocked.Increment(ref next) - 1)
            {
                int pixelItem = item / _depthBlocks, pc = item % _depthBlocks * Sgemm.KC;
                int p0 = pixelItem % _blocksPerImage * _blockPixels;
                PackInput(pixelItem / _blocksPerImage, p0, Math.Min(_blockPixels, _hw - p0), pc, Math.Min(Sgemm.KC, _depth - pc), SharedBlock(pixelItem, pc));
            }
        }

        private readonly bool HasAddend => _bias is not null || _residual is not null;

        /// <summary>Takes whole items from the shared counter until none are left.</summary>
        public readonly void Work(ref int next)
        {
            int kcMax = Math.Min(Sgemm.KC, _depth);
            float* panels = SharedPanels is null ? PanelScratch.Get(kcMax * _blockPixels) : null;
            for (int item = Interlocked.Increment(ref next) - 1; item < Items; item = Interlocked.Increment(ref next) - 1)
            {
                int chunk = item % _rowChunks, pixelItem = item / _rowChunks;
                int image = pixelItem / _blocksPerImage;
                int p0 = pixelItem % _blocksPerImage * _blockPixels;
                int pixels = Math.Min(_blockPixels, _hw - p0);
                int row0 = chunk * _rowsPerChunk, row1 = Math.Min(_cout, row0 + _rowsPerChunk);
                if (row0 >= _cout) continue;
                Multiply(pixelItem, p0, pixels, row0, row1, panels);
            }
        }

        /// <summary>
        /// y[image, row0..row1, p0 .. p0 + pixels) for one item, depth block by depth block, gathering the input into
        /// <paramref name="panels"/> or reading it from the shared panels.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Multiply(int pixelItem, int p0, int pixels, int row0, int row1, float* panels)
        {
            int nr = Sgemm.NR, mr = Sgemm.MR, kcMax = Sgemm.KC;
            int image = pixelItem / _blocksPerImage;
            float* yBlock = _y + (long)image * _cout * _hw + p0;
            // y = s·acc + s·(bias + residual): pre-fill the block with the second term, then let every depth block
            // add s·partial with beta = 1. Reading the residual before any write also makes residual == y safe.
            if (HasAddend)
                Prefill(yBlock, _residual is null ? null : _residual + (long)image * _cout * _hw + p0, pixels, row0, row1);
            for (int pc = 0; pc < _depth; pc += kcMax)
            {
                int kc = Math.Min(kcMax, _depth - pc);
                float beta = HasAddend || pc > 0 ? 1f : 0f;
                float* block = SharedPanels is null ? panels : SharedBlock(pixelItem, pc);
                if (SharedPanels is null) PackInput(image, p0, pixels, pc, kc, block);
                float* aBlock = _w + PackedConvWeights.Offset(_cout, pc, row0, kc);
                for (int j = 0; j < pixels; j += nr)
                {
                    int cols = Math.Min(nr, pixels - j);
                    float* b = block + (long)j * kc;
                    for (int row = row0; row < row1; row += mr)
                    {
                        int rows = Math.Min(mr, row1 - row);
                        Sgemm.Tile(kc, aBlock + (long)(row - row0) * kc, b, yBlock + (long)row * _hw + j, _hw, _scale, beta, rows, cols);
                    }
                }
            }
        }

        /// <summary>yBlock[co, p] = scale · (bias[co] + residual[co, p]) for the block's pixels and the given channels.</summary>
        private readonly void Prefill(float* yBlock, float* residualBlock, int pixels, int channelStart, int channelEnd) =>
            ConvPrefill.Run(yBlock, residualBlock, _bias, _scale, _hw, pixels, channelStart, channelEnd);

        /// <summary>
        /// The fused im2col: depth rows [pc, pc + kc) of the unfolded input, for output pixels [p0, p0 + pixels),
        /// written straight into NR-wide B panels laid out [panel][k][c] (zero past the last pixel and in the padding).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void PackInput(int image, int p0, int pixels, int pc, int kc, float* dst)
        {
            int nr = Sgemm.NR, taps = _kh * _kw;
            long plane = (long)_h * _width;
            for (int j = 0; j < pixels; j += nr)
            {
                int cols = Math.Min(nr, pixels - j);
                float* panel = dst + (long)j * kc;
                int q0 = p0 + j;
                if (_pointwise)
                {
                    // 1×1 stride 1: depth row k is input channel k, whose pixels are the output's: a plain GEMM's packing.
                    for (int k = 0; k < kc; k++)
                    {
                        float* src = Channel(image, pc + k, plane) + q0;
                        float* d = panel + (long)k * nr;
                        if (cols == nr) Unsafe.CopyBlockUnaligned(d, src, (uint)(nr * sizeof(float)));
                        else
                        {
                            new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(d, cols));
                            new Span<float>(d + cols, nr - cols).Clear();
                        }
                    }
                    continue;
                }
                int oyStart = q0 / _wo, oxStart = q0 - oyStart * _wo;
                for (int k = 0; k < kc; k++)
                {
                    int row = pc + k;
                    int ci = row / taps, ky = row % taps / _kw, kx = row % _kw;
                    float* src = Channel(image, ci, plane);
                    float* d = panel + (long)k * nr;
                    int oy = oyStart, ox = oxStart;
                    for (int done = 0; done < cols; oy++, ox = 0)
                    {
                        int run = Math.Min(_wo - ox, cols - done);
                        int iy = oy * _stride - _padding + ky;
                        if ((uint)iy >= (uint)_h) new Span<float>(d + done, run).Clear();
                        else GatherRun(src + (long)iy * _width, ox * _stride - _padding + kx, run, d + done);
                        done += run;
                    }
                    if (cols < nr) new Span<float>(d + cols, nr - cols).Clear();
                }
            }
        }

        /// <summary>The first pixel of input channel <paramref name="ci"/> of <paramref name="image"/>, in x or in the concatenated skip.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly float* Channel(int image, int ci, long plane) =>
            ci < _xChannels ? _x + ((long)image * _xChannels + ci) * plane : _skip + ((long)image * (_cin - _xChannels) + ci - _xChannels) * plane;

        /// <summary>dst[t] = row[ix0 + t·stride] for t &lt; run, zero outside [0, width).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void GatherRun(float* row, int ix0, int run, float* dst)
        {
            if (_stride == 1)
            {
                int lo = Math.Clamp(-ix0, 0, run);
                int hi = Math.Max(lo, Math.Clamp(_width - ix0, 0, run));
                for (int t = 0; t < lo; t++) dst[t] = 0;
                Unsafe.CopyBlockUnaligned(dst + lo, row + ix0 + lo, (uint)((hi - lo) * sizeof(float)));
                for (int t = hi; t < run; t++) dst[t] = 0;
                return;
            }
            if (_stride == 2)
            {
                // Every other input pixel: the in-bounds span first, then the edges.
                int lo = Math.Clamp((-ix0 + 1) / 2, 0, run);
                int hi = Math.Max(lo, Math.Clamp((_width - ix0 + 1) / 2, 0, run));
                for (int t = 0; t < lo; t++) dst[t] = 0;
                float* s = row + ix0;
                for (int t = lo; t < hi; t++) dst[t] = s[2 * t];
                for (int t = hi; t < run; t++) dst[t] = 0;
                return;
            }
            for (int t = 0, ix = ix0; t < run; t++, ix += _stride)
                dst[t] = (uint)ix < (uint)_width ? row[ix] : 0f;
        }
    }
}
