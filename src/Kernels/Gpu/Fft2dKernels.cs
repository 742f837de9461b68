using DiffusionKernels.Kernels.Cpu;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>One pass (rows or columns) of the 2-D FFT: which lines, where they live, and how to transform them.</summary>
public struct FftLinePass
{
    /// <summary>Line length n, element stride within a line, stride between lines of a plane, lines per plane.</summary>
    public int Length, ElementStride, LineStride, LinesPerPlane;
    /// <summary>Planes per sample and elements per plane.</summary>
    public int Channels, PlaneSize;
    /// <summary>Part offsets and batch strides of input and output.</summary>
    public long InRe, InIm, InBatchStride, OutRe, OutIm, OutBatchStride;
    /// <summary>1 when the input imaginary part is zero; 1 when n is a power of two (then <see cref="Bits"/> = log2 n).</summary>
    public int RealInput, PowerOfTwo, Bits;
    /// <summary>Twiddle entries in shared memory: n/2 for radix-2, n for the direct DFT.</summary>
    public int TableSize;
    /// <summary>−1 forward, +1 inverse; output scale.</summary>
    public float Sign, Scale;
}

/// <summary>
/// Orthonormal batched 2-D FFT (the same transform as <see cref="Fft2d"/>): a row pass then an in-place column pass,
/// one thread group per line. The group loads its line into shared memory (bit-reversed for powers of two), builds
/// a twiddle table there, then runs the radix-2 stages with a barrier between stages, or, for other lengths, a
/// direct DFT (each thread one output frequency). Lines must fit in shared memory: n ≤ <see cref="MaxLength"/>.
/// </summary>
public sealed class Fft2dKernels
{
    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftLinePass> _line;

    public Fft2dKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _line = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftLinePass>(Line);
    }

    /// <summary>Longest line (power of two or not) the device's shared memory holds.</summary>
    public int MaxLength(bool powerOfTwo) => (int)(_accelerator.MaxSharedMemoryPerGroup / sizeof(float) / (powerOfTwo ? 3 : 4));

    /// <summary>Queues the transform of the planes in <paramref name="layout"/>; outputs may alias inputs.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> inRe, ArrayView<float> inIm, ArrayView<float> outRe, ArrayView<float> outIm,
        Fft2dLayout layout, bool inverse)
    {
        int h = layout.Height, w = layout.Width;
        foreach (var n in new[] { h, w })
            if (n > MaxLength(IsPowerOfTwo(n)))
                throw new NotSupportedException($"fft2d: a line of {n} points does not fit in {_accelerator.MaxSharedMemoryPerGroup} bytes of shared memory (at most {MaxLength(IsPowerOfTwo(n))} points for this size kind)");
        var rows = Pass(w, 1, w, h, layout, 1f, inverse);
        rows.InRe = layout.InRe;
        rows.InIm = layout.InIm;
        rows.InBatchStride = layout.InBatchStride;
        rows.RealInput = layout.RealInput;
        Launch(stream, rows, layout.Planes * h, inRe, layout.RealInput != 0 ? inRe : inIm, outRe, outIm);

        var cols = Pass(h, w, 1, w, layout, (float)(1.0 / Math.Sqrt((double)h * w)), inverse);
        cols.InRe = layout.OutRe;
        cols.InIm = layout.OutIm;
        cols.InBatchStride = layout.OutBatchStride;
        Launch(stream, cols, layout.Planes * w, outRe, outIm, outRe, outIm);
    }

    private static bool IsPowerOfTwo(int n) => (n & (n - 1)) == 0;

    private static FftLinePass Pass(int n, int elementStride, int lineStride, int lines, Fft2dLayout l, float scale, bool inverse)
    {
        bool pow2 = IsPowerOfTwo(n);
        return new FftLinePass
        {
            Length = n,
            ElementStride = elementStride,
            LineStride = lineStride,
            LinesPerPlane = lines,
            Channels = l.Channels,
            PlaneSize = l.Height * l.Width,
            OutRe = l.OutRe,
            OutIm = l.OutIm,
            OutBatchStride = l.OutBatchStride,
            PowerOfTwo = pow2 ? 1 : 0,
            Bits = pow2 ? System.Numerics.BitOperations.Log2((uint)n) : 0,
            TableSize = pow2 ? Math.Max(n / 2, 1) : n,
            Sign = inverse ? 1f : -1f,
            Scale = scale,
        };
    }

    private void Launch(AcceleratorStream stream, FftLinePass p, int lines, ArrayView<float> inRe, ArrayView<float> inIm, ArrayView<float> outRe, ArrayView<float> outIm)
    {
        int warp = _accelerator.WarpSize;
        int work = p.PowerOfTwo != 0 ? Math.Max(p.Length / 2, 1) : p.Length;
        int threads = Math.Min(_accelerator.MaxNumThreadsPerGroup, (work + warp - 1) / warp * warp);
        var config = new KernelConfig(lines, threads, SharedMemoryConfig.RequestDynamic<float>(2 * p.Length + 2 * p.TableSize));
        _line(stream, config, inRe, inIm, outRe, outIm, p);
    }

    private static void Line(ArrayView<float> inRe, ArrayView<float> inIm, ArrayView<float> outRe, ArrayView<float> outIm, FftLinePass p)
    {
        var shared = SharedMemory.GetDynamic<float>(); // re [n] | im [n] | cos [T] | sin [T]
        int n = p.Length, tid = Group.IdxX, threads = Group.DimX;
        int line = Grid.IdxX;
        int plane = line / p.LinesPerPlane, l = line - plane * p.LinesPerPlane;
        int b = plane / p.Channels, c = plane - b * p.Channels;
        long within = (long)c * p.PlaneSize + (long)l * p.LineStride;
        long inReBase = p.InRe + b * p.InBatchStride + within, inImBase = p.InIm + b * p.InBatchStride + within;
        long outReBase = p.OutRe + b * p.OutBatchStride + within, outImBase = p.OutIm + b * p.OutBatchStride + within;
        int tRe = 2 * n, tIm = 2 * n + p.TableSize;

        for (int k = tid; k < p.TableSize; k += threads)
        {
            // Angles folded into (−π, π] where the hardware sine is accurate.
            int kk = 2 * k > n ? k - n : k;
            float angle = 2f * XMath.PI * kk / n;
            shared[tRe + k] = XMath.Cos(angle);
            shared[tIm + k] = p.Sign * XMath.Sin(angle);
        }
        for (int i = tid; i < n; i += threads)
        {
            int j = i;
            if (p.PowerOfTwo != 0)
            {
                j = 0;
                for (int bit = 0; bit < p.Bits; bit++) j = (j << 1) | ((i >> bit) & 1);
            }
            long at = (long)i * p.ElementStride;
            shared[j] = inRe[inReBase + at];
            shared[n + j] = p.RealInput != 0 ? 0f : inIm[inImBase + at];
        }
        Group.Barrier();

        if (p.PowerOfTwo != 0)
        {
            for (int len = 2; len <= n; len <<= 1)
            {
                int half = len >> 1, step = n / len;
                for (int q = tid; q < n / 2; q += threads)
                {
                    int group = q / half, k = q - group * half;
                    int ia = group * len + k, ib = ia + half;
                    float wr = shared[tRe + k * step], wi = shared[tIm + k * step];
                    float xr = shared[ib], xi = shared[n + ib];
                    float tr = xr * wr - xi * wi, ti = xr * wi + xi * wr;
                    float ar = shared[ia], ai = shared[n + ia];
                    shared[ib] = ar - tr;
                    shared[n + ib] = ai - ti;
                    shared[ia] = ar + tr;
                    shared[n + ia] = ai + ti;
                }
                Group.Barrier();
            }
            for (int i = tid; i < n; i += threads)
            {
                long at = (long)i * p.ElementStride;
                outRe[outReBase + at] = shared[i] * p.Scale;
                outIm[outImBase + at] = shared[n + i] * p.Scale;
            }
        }
        else
        {
            for (int k = tid; k < n; k += threads)
            {
                float sr = 0f, si = 0f;
                int idx = 0;
                for (int j = 0; j < n; j++)
                {
                    float wr = shared[tRe + idx], wi = shared[tIm + idx];
                    float xr = shared[j], xi = shared[n + j];
                    sr += xr * wr - xi * wi;
                    si += xr * wi + xi * wr;
                    idx += k;
                    if (idx >= n) idx -= n;
                }
                long at = (long)k * p.ElementStride;
                outRe[outReBase + at] = sr * p.Scale;
                outIm[outImBase + at] = si * p.Scale;
            }
        }
    }
}
