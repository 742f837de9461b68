using System.Numerics;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// 2-D convolution (PyTorch cross-correlation, NCHW) as GEMM: y[co, p] = Σ_k w[co, k] · col[k, p], with
/// k = (ci, ky, kx) and p an output pixel. A 1×1 stride-1 convolution multiplies by the input directly;
/// any other kernel first unfolds (im2col) a block of output pixels into a scratch buffer small enough to
/// stay in cache. Large blocks run one after another, each GEMM split over the cores by <see cref="Sgemm"/>;
/// blocks too small for Sgemm to split are instead shared out whole among the cores.
/// </summary>
internal static unsafe class Conv2d
{
    // Aim for ~16 MiB of unfolded input per block (whole images up to 64×64 at K = 1152): every GEMM call packs
    // the weights again (Cout·K), so larger blocks amortize that; 1 MiB blocks measured 140–185 GFLOP/s on
    // conv3×3 against 178–232 with 16 MiB (2-core AVX-512 machine). Never fewer than 256 output pixels.
    private const int ScratchTargetFloats = 4096 * 1024;
    private const int MinBlockPixels = 256;
    private const int MaxPointwiseBlockPixels = 1024;
    // Below this many flops the thread hand-off costs more than it saves.
    private const double ParallelMinFlops = 4e6;
    // Sgemm keeps products under about this many flops on one thread (and splits larger ones itself).
    private const double SgemmSerialFlops = 2e6;

    /// <summary>
    /// y = (conv2d(x, w) + bias + residual) · outputScale. x [batch, cin, h, width], w [cout, cin, kh, kw],
    /// bias [cout] or empty, residual and y [batch, cout, ho, wo] (residual empty for none; it may be y itself).
    /// Padding is applied on the top and left; taps past the bottom/right edge (as implied by ho, wo) read zero.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> residual, Span<float> y,
        int batch, int cin, int h, int width, int cout, int kh, int kw, int ho, int wo,
        int stride, int padding, float outputScale)
    {
        if (batch <= 0 || cout <= 0 || ho <= 0 || wo <= 0) return;
        long hw = (long)ho * wo;

        fixed (float* px = x, pw = w, pb = bias, pr = residual, py = y)
        {
            var job = new Job(px, pw, bias.IsEmpty ? null : pb, residual.IsEmpty ? null : pr, py,
                batch, cin, h, width, cout, kh, kw, ho, wo, stride, padding, outputScale);
            double flops = 2.0 * batch * cout * hw * cin * kh * kw;
            int workers = flops < ParallelMinFlops ? 1 : Math.Min(Environment.ProcessorCount, job.Items);
            if (workers > 1 && flops / job.Items < SgemmSerialFlops)
            {
                // Blocks too small for Sgemm to split: give whole blocks to the cores.
                var shared = new WorkQueue(job);
                Parallel.For(0, workers, _ => shared.Job.Work(ref shared.Next));
                return;
            }
            // Otherwise Sgemm splits each block's product over the cores itself (running blocks in parallel too
            // would nest its threads inside ours); the unfold and bias/residual pre-fill are split here.
            float[]? scratch = job.ScratchFloats == 0 ? null : ThreadScratch.Get(job.ScratchFloats);
            fixed (float* col = scratch)
            {
                int parts = flops < ParallelMinFlops ? 1 : Environment.ProcessorCount;
                for (int item = 0; item < job.Items; item++)
                {
                    var (image, p0, pixels) = job.Locate(item);
                    if (job.NeedsPrepare && parts == 1) job.Prepare(image, p0, pixels, col, 0, 1);
                    else if (job.NeedsPrepare)
                    {
                        nint colAddress = (nint)col;
                        Parallel.For(0, parts, part => job.Prepare(image, p0, pixels, (float*)colAddress, part, parts));
                    }
                    job.Multiply(image, p0, pixels, col);
                }
            }
        }
    }

    /// <summary>
    /// One im2col buffer per thread, kept between calls: blocks are up to 16 MiB, which the shared array pool
    /// would hand out afresh (and the GC reclaim) on every call.
    /// </summary>
    private static class ThreadScratch
    {
        [ThreadStatic] private static float[]? _buffer;

        public static float[] Get(int floats) => _buffer is { } b && b.Length >= floats ? b : _buffer = new float[floats];
    }

    private sealed class WorkQueue(Job job)
    {
        public readonly Job Job = job;
        public int Next;
    }

    /// <summary>One convolution call: pointers and sizes, split into (image, pixel block) items.</summary>
    private readonly struct Job
    {
        private readonly float* _x, _w, _bias, _residual, _y;
        private readonly int _cin, _h, _width, _cout, _kh, _kw, _wo, _stride, _padding;
        private readonly int _hw, _k, _blockPixels, _blocksPerImage;
        private readonly float _scale;
        private readonly bool _pointwise;

        public Job(float* x, float* w, float* bias, float* residual, float* y, int batch, int cin, int h, int width,
            int cout, int kh, int kw, int ho, int wo, int stride, int padding, float scale)
        {
            _x = x; _w = w; _bias = bias; _residual = residual; _y = y;
            (_cin, _h, _width, _cout, _kh, _kw, _wo, _stride, _padding, _scale) = (cin, h, width, cout, kh, kw, wo, stride, padding, scale);
            _hw = ho * wo;
            _k = cin * kh * kw;
            _pointwise = kh == 1 && kw == 1 && stride == 1 && padding == 0 && ho == h && wo == width;
            int target = _pointwise ? MaxPointwiseBlockPixels : Math.Max(MinBlockPixels, ScratchTargetFloats / Math.Max(1, _k));
            _blocksPerImage = (_hw + target - 1) / target;
            _blockPixels = (_hw + _blocksPerImage - 1) / _blocksPerImage;
            if (_blocksPerImage > 1) _blockPixels = (_blockPixels + 31) & ~31; // whole GEMM column panels
            _blocksPerImage = (_hw + _blockPixels - 1) / _blockPixels;
            Items = batch * _blocksPerImage;
            ScratchFloats = _pointwise ? 0 : _k * _blockPixels;
        }

        public int Items { get; }

        /// <summary>Floats of im2col scratch one block needs (0 for the pointwise shortcut).</summary>
        public int ScratchFloats { get; }

        /// <summary>Image, first output pixel and pixel count of work item <paramref name="item"/>.</summary>
        public (int Image, int P0, int Pixels) Locate(int item)
        {
            int image = item / _blocksPerImage;
            int p0 = item % _blocksPerImage * _blockPixels;
            return (image, p0, Math.Min(_blockPixels, _hw - p0));
        }

        /// <summary>Takes whole items from the shared counter until none are left.</summary>
        public void Work(ref int next)
        {
            float[]? scratch = ScratchFloats == 0 ? null : ThreadScratch.Get(ScratchFloats);
            fixed (float* col = scratch)
            {
                for (int item = Interlocked.Increment(ref next) - 1; item < Items; item = Interlocked.Increment(ref next) - 1)
                {
                    var (image, p0, pixels) = Locate(item);
                    Prepare(image, p0, pixels, col, 0, 1);
                    Multiply(image, p0, pixels, col);
                }
            }
        }

        private bool HasAddend => _bias is not null || _residual is not null;

        /// <summary>False for a pointwise convolution with nothing to add: the GEMM alone writes y.</summary>
        public bool NeedsPrepare => !_pointwise || HasAddend;

        /// <summary>
        /// Part <paramref name="part"/> of <paramref name="parts"/> of a block's set-up: its share of the im2col rows
        /// and of the output channels' pre-fill.
        /// </summary>
        public void Prepare(int image, int p0, int pixels, float* col, int part, int parts)
        {
            if (!_pointwise) Unfold(image, p0, pixels, col, part * _k / parts, (part + 1) * _k / parts);
            // y = s·acc + s·(bias + residual): pre-fill the block with the second term, then let the GEMM add
            // s·acc with beta = 1. Reading the residual before the GEMM writes also makes residual == y safe.
            if (HasAddend)
            {
                long yOffset = (long)image * _cout * _hw + p0;
                Prefill(_y + yOffset, _residual is null ? null : _residual + yOffset, pixels, part * _cout / parts, (part + 1) * _cout / parts);
            }
        }

        /// <summary>The block's GEMM: y[:, p0 .. p0 + pixels) (+)= scale · w · col.</summary>
        public void Multiply(int image, int p0, int pixels, float* col)
        {
            long yOffset = (long)image * _cout * _hw + p0;
            var c = new Span<float>(_y + yOffset, checked((int)((long)(_cout - 1) * _hw + pixels)));
            var a = new ReadOnlySpan<float>(_w, _cout * _k);
            float beta = HasAddend ? 1f : 0f;
            if (_pointwise)
            {
                long xOffset = (long)image * _cin * _hw + p0;
                var b = new ReadOnlySpan<float>(_x + xOffset, checked((int)((long)(_cin - 1) * _hw + pixels)));
                Sgemm.Multiply(false, false, _cout, pixels, _cin, _scale, a, _cin, b, _hw, beta, c, _hw);
            }
            else
            {
                var b = new ReadOnlySpan<float>(col, _k * pixels);
                Sgemm.Multiply(false, false, _cout, pixels, _k, _scale, a, _k, b, pixels, beta, c, _hw);
            }
        }

        /// <summary>yBlock[co, p] = scale · (bias[co] + residual[co, p]) for the block's pixels and the given channels.</summary>
        private void Prefill(float* yBlock, float* residualBlock, int pixels, int channelStart, int channelEnd) =>
            ConvPrefill.Run(yBlock, residualBlock, _bias, _scale, _hw, pixels, channelStart, channelEnd);

        /// <summary>
        /// im2col for output pixels [p0, p0 + pixels) of one image: col[(ci·kh + ky)·kw + kx, p] is the input
        /// under tap (ky, kx) of output pixel p, or 0 where the tap falls in the padding.
        /// </summary>
        private void Unfold(int image, int p0, int pixels, float* col, int rowStart, int rowEnd)
        {
            float* xImage = _x + (long)image * _cin * _h * _width;
            int taps = _kh * _kw;
            for (int row = rowStart; row < rowEnd; row++)
            {
                int ci = row / taps, ky = row % taps / _kw, kx = row % _kw;
                float* dst = col + (long)row * pixels;
                float* plane = xImage + (long)ci * _h * _width;
                int oy = p0 / _wo, ox = p0 - oy * _wo;
                for (int done = 0; done < pixels; oy++, ox = 0)
                {
                    int run = Math.Min(_wo - ox, pixels - done);
                    int iy = oy * _stride - _padding + ky;
                    if ((uint)iy >= (uint)_h) new Span<float>(dst + done, run).Clear();
                    else UnfoldRun(plane + (long)iy * _width, ox * _stride - _padding + kx, run, dst + done);
                    done += run;
                }
            }
        }

        /// <summary>dst[t] = src[ix0 + t·stride] for t &lt; run, zero outside [0, width).</summary>
        private void UnfoldRun(float* src, int ix0, int run, float* dst)
        {
            if (_stride == 1)
            {
                int lo = Math.Clamp(-ix0, 0, run);
                int hi = Math.Max(lo, Math.Clamp(_width - ix0, 0, run));
                if (lo > 0) new Span<float>(dst, lo).Clear();
                new ReadOnlySpan<float>(src + ix0 + lo, hi - lo).CopyTo(new Span<float>(dst + lo, hi - lo));
                if (hi < run) new Span<float>(dst + hi, run - hi).Clear();
                return;
            }
            for (int t = 0, ix = ix0; t < run; t++, ix += _stride)
                dst[t] = (uint)ix < (uint)_width ? src[ix] : 0f;
        }
    }
}
