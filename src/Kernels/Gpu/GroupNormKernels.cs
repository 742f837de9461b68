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
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, float, Activation, int> _groupNorm;

    public GroupNormKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _groupNorm = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, float, Activation, int>(GroupNorm);
    }

    /// <summary>
    /// Queues y = act(GroupNorm(x)·γ + β); γ, β [channels]; y may be x. Shapes are checked by the caller
    /// (<c>Backend.GroupNorm</c>). <paramref name="threads"/> overrides the threads per group (whole warps, at most the
    /// device's limit and 1024), for the kernel checks across launch shapes; by default up to 512. With
    /// <paramref name="tokensOut"/> y is written as tokens [N, spatial, channels] (an attention block's input; y may
    /// not be x then) instead of in x's layout.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y,
        int channels, int spatial, int groups, float eps, Activation activation, int? threads = null, bool tokensOut = false) =>
        RunOfConcat(stream, x, x, channels, 0, gamma, beta, y, spatial, groups, eps, activation, threads, tokensOut);

    /// <summary>
    /// <see cref="Run"/> of cat(x, skip) along channels, read in place: x [N, xChannels, spatial] holds channels
    /// [0, xChannels) and skip [N, skipChannels, spatial] the rest; y is [N, xChannels + skipChannels, spatial] (or its
    /// tokens) and may alias neither. A group straddling the seam reads from both; every group sums its elements in the
    /// order it would over the concatenated tensor, so the result has the same bits.
    /// </summary>
    public void RunOfConcat(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> skip, int xChannels, int skipChannels,
        ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y, int spatial, int groups, float eps, Activation activation,
        int? threads = null, bool tokensOut = false)
    {
        int channels = xChannels + skipChannels;
        long blockLength = (long)channels / groups * spatial;
        if (blockLength == 0 || y.Length == 0) return;
        int blocks = checked((int)(y.Length / blockLength));
        int groupSize = threads ?? NormBlockReduce.GroupSize(_accelerator, blockLength);
        if (groupSize % _accelerator.WarpSize != 0 || groupSize > Math.Min(_accelerator.MaxNumThreadsPerGroup, NormBlockReduce.MaxWarps * _accelerator.WarpSize))
            throw new ArgumentOutOfRangeException(nameof(threads), $"group norm: {groupSize} threads per group is not whole warps within the device's limit");
        var config = new KernelConfig(blocks, groupSize);
        _groupNorm(LaunchCounter.Count(stream), config, x, skip, gamma, beta, y, xChannels * spatial, channels / groups, spatial, groups, eps, activation, tokensOut ? 1 : 0);
    }

    /// <summary>
    /// One group of threads per (sample, group) block. Element i of a block is element start + i of its sample in the
    /// concatenation (x's <paramref name="seam"/> = xChannels·spatial elements, then skip's); without a skip the seam is
    /// the whole sample and every read is x's, at the block's own offset.
    /// </summary>
    private static void GroupNorm(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y,
        int seam, int channelsPerGroup, int spatial, int groups, float eps, Activation activation, int tokensOut)
    {
        var shared = SharedMemory.Allocate<float>(NormBlockReduce.SharedLength);
        int block = Grid.IdxX;
        int length = channelsPerGroup * spatial;
        int sample = block / groups, firstChannel = block % groups * channelsPerGroup;
        long sampleLength = (long)groups * length;
        long start = (long)block * length;                   // the block in y (NCHW)
        long inSample = (long)firstChannel * spatial;          // ... and within its sample
        long xStart = (long)sample * seam + inSample;          // where it starts in x (when before the seam)
        long skipStart = (long)sample * (sampleLength - seam) + inSample - seam; // ... and in skip (past it)
        long beforeSeam = seam - inSample;
        int xRun = beforeSeam <= 0 ? 0 : beforeSeam >= length ? length : (int)beforeSeam; // the block's first xRun elements are x's
        int head = XMath.Min(length, ShiftSampleLength);
        float headSum = 0f;
        for (int i = Group.IdxX; i < head; i += Group.DimX) headSum += i < xRun ? x[xStart + i] : skip[skipStart + i];
        float k = NormBlockReduce.Sum(headSum, shared) / head;
        float sum = 0f, squares = 0f;
        for (int i = Group.IdxX; i < length; i += Group.DimX)
        {
            float d = (i < xRun ? x[xStart + i] : skip[skipStart + i]) - k;
            sum += d;
            squares += d * d;
        }
        NormBlockReduce.Sum2(ref sum, ref squares, shared);
        float meanShift = sum / length;
        float variance = XMath.Max(squares / length - meanShift * meanShift, 0f);
        float rstd = XMath.Rsqrt(variance + eps);
        float mean = k + meanShift;
        // Tokens: element (n, c, p) goes to (n·spatial + p)·channels + c; the sample's tokens start at n·spatial·channels.
        long tokenBase = sample * sampleLength;
        for (int i = Group.IdxX; i < length; i += Group.DimX)
        {
            int inGroup = i / spatial;
            int c = firstChannel + inGroup;
            float scale = gamma[c] * rstd;
            float v = ActivationMath.Apply(((i < xRun ? x[xStart + i] : skip[skipStart + i]) - mean) * scale + beta[c], activation);
            if (tokensOut != 0) y[tokenBase + (long)(i - inGroup * spatial) * groups * channelsPerGroup + c] = v;
            else y[start + i] = v;
        }
    }
}
