using DiffusionKernels.Kernels.Cpu;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Per-sample reductions of x [batch, M] into result [batch]: one group of threads per sample, codes as in
/// <see cref="Reductions"/>. Std takes two passes (mean, then squared deviations) inside the same group.
/// </summary>
internal sealed class ReductionKernels
{
    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int> _reduce;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<long>, int, long> _flag;

    public ReductionKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _reduce = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int, int>(Reduce);
        _flag = accelerator.LoadKernel<ArrayView<float>, ArrayView<long>, int, long>(FlagNonFinite);
    }

    /// <summary>
    /// Queues flags[b] = min(flags[b], step) for every sample b of x (sample length x.Length / flags.Length) holding a
    /// NaN or ±∞; nothing is copied to the host (twin: <see cref="Reductions.FlagNonFinite"/>).
    /// </summary>
    public void FlagNonFinite(AcceleratorStream stream, ArrayView<float> x, ArrayView<long> flags, long step)
    {
        int batch = checked((int)flags.Length);
        if (batch == 0) return;
        int sample = checked((int)(x.Length / batch));
        _flag(LaunchCounter.Count(stream), new KernelConfig(batch, NormBlockReduce.GroupSize(_accelerator, sample)), x, flags, sample, step);
    }

    private static void FlagNonFinite(ArrayView<float> x, ArrayView<long> flags, int sample, long step)
    {
        int b = Grid.IdxX;
        long start = (long)b * sample;
        var shared = SharedMemory.Allocate<float>(NormBlockReduce.SharedLength);
        float count = 0f;
        for (int i = Group.IdxX; i < sample; i += Group.DimX)
        {
            float v = x[start + i];
            if (XMath.IsNaN(v) | XMath.IsInfinity(v)) count += 1f;
        }
        count = NormBlockReduce.Sum(count, shared);
        // One group per sample, so one thread may update its flag without atomics.
        if (Group.IdxX == 0 && count > 0f && step < flags[b]) flags[b] = step;
    }

    /// <summary>Queues result[b] = reduction of sample b (sample length = x.Length / result.Length).</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> result, int kind)
    {
        int batch = checked((int)result.Length);
        if (batch == 0) return;
        int sample = checked((int)(x.Length / batch));
        _reduce(LaunchCounter.Count(stream), new KernelConfig(batch, NormBlockReduce.GroupSize(_accelerator, sample)), x, result, sample, kind);
    }

    private static void Reduce(ArrayView<float> x, ArrayView<float> result, int sample, int kind)
    {
        int b = Grid.IdxX;
        long start = (long)b * sample;
        var shared = SharedMemory.Allocate<float>(NormBlockReduce.SharedLength);
        float value;
        if (kind == Reductions.MaxAbs)
        {
            float m = 0f;
            for (int i = Group.IdxX; i < sample; i += Group.DimX)
                m = NormBlockReduce.MaxOrNaN(m, XMath.Abs(x[start + i]));
            value = NormBlockReduce.Max(m, shared);
        }
        else if (kind == Reductions.NonFiniteCount)
        {
            float count = 0f;
            for (int i = Group.IdxX; i < sample; i += Group.DimX)
            {
                float v = x[start + i];
                if (XMath.IsNaN(v) | XMath.IsInfinity(v)) count += 1f;
            }
            value = NormBlockReduce.Sum(count, shared);
        }
        else
        {
            // Sums of x − x₀: exact for a constant sample (Std 0) and no large offset in the float sums.
            float first = x[start];
            if (XMath.IsNaN(first) | XMath.IsInfinity(first)) first = 0f;
            float sum = 0f;
            for (int i = Group.IdxX; i < sample; i += Group.DimX) sum += x[start + i] - first;
            float mean = first + NormBlockReduce.Sum(sum, shared) / sample;
            value = mean;
            if (kind == Reductions.Std)
            {
                float squares = 0f;
                for (int i = Group.IdxX; i < sample; i += Group.DimX)
                {
                    float d = x[start + i] - mean;
                    squares += d * d;
                }
                value = XMath.Sqrt(NormBlockReduce.Sum(squares, shared) / sample);
            }
        }
        if (Group.IdxX == 0) result[b] = value;
    }
}

/// <summary>
/// Group-wide reductions for the norm-family kernels: warp shuffles, then one value per warp through shared
/// memory, reduced by the first warp. Every thread of the group gets the result. The group size must be a
/// multiple of the warp size and at most <see cref="MaxWarps"/> warps.
/// </summary>
internal static class NormBlockReduce
{
    /// <summary>Most warps per group (1024 threads of 32).</summary>
    public const int MaxWarps = 32;

    /// <summary>Floats of shared memory a kernel allocates for these helpers.</summary>
    public const int SharedLength = 2 * MaxWarps + 2;

    /// <summary>Threads per group for <paramref name="work"/> elements: whole warps, at most 512 or the device limit.</summary>
    public static int GroupSize(Accelerator accelerator, long work)
    {
        int warp = accelerator.WarpSize;
        int limit = Math.Min(Math.Min(accelerator.MaxNumThreadsPerGroup, MaxWarps * warp), 512) / warp * warp;
        long wanted = (work + warp - 1) / warp * warp;
        return (int)Math.Clamp(wanted, warp, limit);
    }

    public static float MaxOrNaN(float m, float v) => v > m | XMath.IsNaN(v) ? v : m;

    public static float Sum(float v, ArrayView<float> shared)
    {
        float unused = 0f;
        Sum2(ref v, ref unused, shared);
        return v;
    }

    /// <summary>Sums two values over the group at once (one pair of barriers for both).</summary>
    public static void Sum2(ref float a, ref float b, ArrayView<float> shared)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
        {
            a += Warp.ShuffleDown(a, offset);
            b += Warp.ShuffleDown(b, offset);
        }
        Group.Barrier(); // earlier readers of shared memory are done
        if (Warp.LaneIdx == 0)
        {
            shared[Warp.WarpIdx] = a;
            shared[MaxWarps + Warp.WarpIdx] = b;
        }
        Group.Barrier();
        if (Warp.WarpIdx == 0)
        {
            int warps = Group.DimX / Warp.WarpSize;
            a = Warp.LaneIdx < warps ? shared[Warp.LaneIdx] : 0f;
            b = Warp.LaneIdx < warps ? shared[MaxWarps + Warp.LaneIdx] : 0f;
            for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
            {
                a += Warp.ShuffleDown(a, offset);
                b += Warp.ShuffleDown(b, offset);
            }
            if (Warp.LaneIdx == 0)
            {
                shared[2 * MaxWarps] = a;
                shared[2 * MaxWarps + 1] = b;
            }
        }
        Group.Barrier();
        a = shared[2 * MaxWarps];
        b = shared[2 * MaxWarps + 1];
    }

    /// <summary>Maximum over the group; NaN if any thread holds NaN.</summary>
    public static float Max(float v, ArrayView<float> shared)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
            v = MaxOrNaN(v, Warp.ShuffleDown(v, offset));
        Group.Barrier();
        if (Warp.LaneIdx == 0) shared[Warp.WarpIdx] = v;
        Group.Barrier();
        if (Warp.WarpIdx == 0)
        {
            int warps = Group.DimX / Warp.WarpSize;
            v = Warp.LaneIdx < warps ? shared[Warp.LaneIdx] : 0f;
            for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
                v = MaxOrNaN(v, Warp.ShuffleDown(v, offset));
            if (Warp.LaneIdx == 0) shared[2 * MaxWarps] = v;
        }
        Group.Barrier();
        return shared[2 * MaxWarps];
    }
}
