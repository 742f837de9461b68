using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Group normalization (+ activation) over x [N, C, spatial]: one group of threads per (sample, group) block of
/// C/groups × spatial contiguous elements. The group reduces Σ(x − K) and Σ(x − K)² with K the mean of the block's
/// first <see cref="ShiftSampleLength"/> elements, the shift the CPU twin (<see cref="Cpu.GroupNorm"/>) uses, so the
/// one-pass variance does not cancel even when one element lies far from the rest; then it normalizes, applies γ/β and
/// the activation. (The twin sums in double where this sums in float; the formulation is the same.)
/// </summary>
internal sealed class GroupNormKernels
{
    /// <summary>Elements averaged for the shift K (the CPU twin's choice).</summary>
    public const int ShiftSampleLength = Cpu.GroupNorm.ShiftSampleLength;

    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, Activation, int> _groupNorm;

    public GroupNormKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _groupNorm = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float, Activation, int>(GroupNorm);
    }

    /// <summary>
    /// Queues y = act(GroupNorm(x)·γ + β); γ, β [channels]; y may be x. Shapes are checked by the caller
    /// (<c>Backend.GroupNorm</c>). <paramref name="threads"/> overrides the threads per group (whole warps, at most the
    /// device's limit and 1024), for the kernel checks across launch shapes; by default up to 512. With
    /// <paramref name="tokensOut"/> y is written as tokens [N, spatial, channels] (an attention block's input; y may
    /// not be x then) instead of in x's layout.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y,
        int channels, int spatial, int groups, float eps, Activation activation, int? threads = null, bool tokensOut = false)
    {
        long blockLength = (long)channels / groups * spatial;
        if (blockLength == 0 || x.Length == 0) return;
        int blocks = checked((int)(x.Length / blockLength));
        int groupSize = threads ?? NormBlockReduce.GroupSize(_accelerator, blockLength);
        if (groupSize % _accelerator.WarpSize != 0 || groupSize > Math.Min(_accelerator.MaxNumThreadsPerGroup, NormBlockReduce.MaxWarps * _accelerator.WarpSize))
            throw new ArgumentOutOfRangeException(nameof(threads), $"group norm: {groupSize} threads per group is not whole warps within the device's limit");
        var config = new KernelConfig(blocks, groupSize);
        _groupNorm(LaunchCounter.Count(stream), config, x, gamma, beta, y, channels / groups, spatial, groups, eps, activation, tokensOut ? 1 : 0);
    }

    private static void GroupNorm(ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y,
        int channelsPerGroup, int spatial, int groups, float eps, Activation activation, int tokensOut)
    {
        var shared = SharedMemory.Allocate<float>(NormBlockReduce.SharedLength);
        int block = Grid.IdxX;
        int length = channelsPerGroup * spatial;
        long start = (long)block * length;
        int head = XMath.Min(length, ShiftSampleLength);
        float headSum = 0f;
        for (int i = Group.IdxX; i < head; i += Group.DimX) headSum += x[start + i];
        float k = NormBlockReduce.Sum(headSum, shared) / head;
        float sum = 0f, squares = 0f;
        for (int i = Group.IdxX; i < length; i += Group.DimX)
        {
            float d = x[start + i] - k;
            sum += d;
            squares += d * d;
        }
        NormBlockReduce.Sum2(ref sum, ref squares, shared);
        float meanShift = sum / length;
        float variance = XMath.Max(squares / length - meanShift * meanShift, 0f);
        float rstd = XMath.Rsqrt(variance + eps);
        float mean = k + meanShift;
        int firstChannel = block % groups * channelsPerGroup;
        // Tokens: element (n, c, p) goes to (n·spatial + p)·channels + c; the sample's tokens start at n·spatial·channels.
        long tokenBase = (long)(block / groups) * spatial * groups * channelsPerGroup;
        for (int i = Group.IdxX; i < length; i += Group.DimX)
        {
            int inGroup = i / spatial;
            int c = firstChannel + inGroup;
            float scale = gamma[c] * rstd;
            float v = ActivationMath.Apply((x[start + i] - mean) * scale + beta[c], activation);
            if (tokensOut != 0) y[tokenBase + (long)(i - inGroup * spatial) * groups * channelsPerGroup + c] = v;
            else y[start + i] = v;
        }
    }
}
