using DiffusionKernels.Kernels.Cpu;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>One pass (rows or columns) of the 2-D FFT: which lines, where they live, and how to transform them.</summary>
internal struct FftLinePass
{
    /// <summary>Line length n, element stride within a line, stride between lines of a plane, lines per plane.</summary>
    public int Length, ElementStride, LineStride, LinesPerPlane;
    /// <summary>Planes per sample and elements per plane.</summary>
    public int Channels, PlaneSize;
    /// <summary>Part offsets and batch strides of input and output.</summary>
    public long InRe, InIm, InBatchStride, OutRe, OutIm, OutBatchStride;
    /// <summary>1 when the input imaginary part is zero; 1 when n is a power of two (then <see cref="Bits"/> = log2 n).</summary>
    public int RealInput, PowerOfTwo, Bits;
    /// <summary>Twiddle entries in shared memory: n/2 for radix-2, n for mixed radix.</summary>
    public int TableSize;
    /// <summary>Mixed radix: the number of Stockham passes and their radices (first pass first; unused ones 0).</summary>
    public int Passes, Radix0, Radix1, Radix2, Radix3, Radix4, Radix5, Radix6, Radix7;
    /// <summary>−1 forward, +1 inverse; output scale.</summary>
    public float Sign, Scale;
}

/// <summary>
/// Orthonormal batched 2-D FFT (the same transform as <see cref="Fft2d"/>): a row pass then an in-place column pass,
/// one thread group per line. The group loads its line into shared memory, builds a twiddle table there, then runs
/// either the radix-2 stages in place (powers of two: the line is loaded bit-reversed) or the Stockham mixed-radix
/// passes of the line's <see cref="FftPlan"/> radices between two shared buffers (other lengths: each thread computes
/// whole R-point butterflies), with a barrier between passes. Lines must fit in shared memory:
/// n ≤ <see cref="MaxLength"/>. Groups have at most <see cref="MaxGroupSize"/> threads and the kernel is compiled with
/// that launch bound (.maxntid), so the register allocation always fits and the launch cannot fail for lack of registers.
/// (Bluestein, which the CPU twin uses for lengths with a large prime factor, is not needed here: mixed radix is exact
/// for every length, at n·p work per pass for a prime factor p.)
/// </summary>
internal sealed class Fft2dKernels
{
    /// <summary>Largest thread group the kernel is compiled for (its launch bound).</summary>
    public const int MaxGroupSize = 256;
    /// <summary>Most Stockham passes a line may take (enough for every length that fits in shared memory).</summary>
    public const int MaxPasses = 8;

    private readonly Accelerator _accelerator;
    private readonly int _groupSize;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftLinePass> _line;

    public Fft2dKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _groupSize = Math.Min(MaxGroupSize, accelerator.MaxNumThreadsPerGroup);
        _line = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftLinePass>(Line, new KernelSpecialization(_groupSize, null));
    }

    /// <summary>Threads per group of the launches.</summary>
    public int GroupSize => _groupSize;

    /// <summary>Longest line (power of two or not) the device's shared memory holds: 3 floats per point for radix-2, 6 for mixed radix.</summary>
    public int MaxLength(bool powerOfTwo) => (int)(_accelerator.MaxSharedMemoryPerGroup / sizeof(float) / (powerOfTwo ? 3 : 6));

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
        int[] radices = pow2 ? [] : FftPlan.Factor(n);
        if (radices.Length > MaxPasses) throw new NotSupportedException($"fft2d: a line of {n} points needs {radices.Length} passes, more than {MaxPasses}");
        int Radix(int i) => i < radices.Length ? radices[i] : 0;
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
            Passes = radices.Length,
            Radix0 = Radix(0),
            Radix1 = Radix(1),
            Radix2 = Radix(2),
            Radix3 = Radix(3),
            Radix4 = Radix(4),
            Radix5 = Radix(5),
            Radix6 = Radix(6),
            Radix7 = Radix(7),
            Sign = inverse ? 1f : -1f,
            Scale = scale,
        };
    }

    private void Launch(AcceleratorStream stream, FftLinePass p, int lines, ArrayView<float> inRe, ArrayView<float> inIm, ArrayView<float> outRe, ArrayView<float> outIm)
    {
        int warp = _accelerator.WarpSize;
        int work = p.PowerOfTwo != 0 ? Math.Max(p.Length / 2, 1) : p.Length;
        int threads = Math.Min(_groupSize, (work + warp - 1) / warp * warp);
        int floats = p.PowerOfTwo != 0 ? 2 * p.Length + 2 * p.TableSize : 4 * p.Length + 2 * p.TableSize;
        var config = new KernelConfig(lines, threads, SharedMemoryConfig.RequestDynamic<float>(floats));
        _line(LaunchCounter.Count(stream), config, inRe, inIm, outRe, outIm, p);
    }

    private static int RadixAt(FftLinePass p, int i) => i switch
    {
        0 => p.Radix0,
        1 => p.Radix1,
        2 => p.Radix2,
        3 => p.Radix3,
        4 => p.Radix4,
        5 => p.Radix5,
        6 => p.Radix6,
        _ => p.Radix7,
    };

    private static void Line(ArrayView<float> inRe, ArrayView<float> inIm, ArrayView<float> outRe, ArrayView<float> outIm, FftLinePass p)
    {
        // radix-2: re [n] | im [n] | cos [T] | sin [T]; mixed radix: re [n] | im [n] | re′ [n] | im′ [n] | cos [T] | sin [T].
        var shared = SharedMemory.GetDynamic<float>();
        int n = p.Length, tid = Group.IdxX, threads = Group.DimX;
        int line = Grid.IdxX;
        int plane = line / p.LinesPerPlane, l = line - plane * p.LinesPerPlane;
        int b = plane / p.Channels, c = plane - b * p.Channels;
        long within = (long)c * p.PlaneSize + (long)l * p.LineStride;
        long inReBase = p.InRe + b * p.InBatchStride + within, inImBase = p.InIm + b * p.InBatchStride + within;
        long outReBase = p.OutRe + b * p.OutBatchStride + within, outImBase = p.OutIm + b * p.OutBatchStride + within;
        int data = p.PowerOfTwo != 0 ? 2 * n : 4 * n;
        int tRe = data, tIm = data + p.TableSize;

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
            // Stockham passes between the two buffers: see FftLanes (the CPU twin) for the index algebra.
            int src = 0, dst = 2 * n, ns = 1;
            for (int pass = 0; pass < p.Passes; pass++)
            {
                int radix = RadixAt(p, pass), stride = n / radix, span = n / (ns * radix);
                for (int j = tid; j < stride; j += threads)
                {
                    int k = j % ns, outBase = j / ns * ns * radix + k;
                    for (int q = 0; q < radix; q++)
                    {
                        float sr = 0f, si = 0f;
                        for (int r = 0; r < radix; r++)
                        {
                            int tw = (k * r * span + r * q * stride) % n;
                            float wr = shared[tRe + tw], wi = shared[tIm + tw];
                            int at = j + r * stride;
                            float xr = shared[src + at], xi = shared[src + n + at];
                            sr += xr * wr - xi * wi;
                            si += xr * wi + xi * wr;
                        }
                        int o = outBase + q * ns;
                        shared[dst + o] = sr;
                        shared[dst + n + o] = si;
                    }
                }
                Group.Barrier();
                (src, dst) = (dst, src);
                ns *= radix;
            }
            for (int i = tid; i < n; i += threads)
            {
                long at = (long)i * p.ElementStride;
                outRe[outReBase + at] = shared[src + i] * p.Scale;
                outIm[outImBase + at] = shared[src + n + i] * p.Scale;
            }
        }
    }
}
