using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    // Launchers of the norm family, created on first use; they hold only loaded kernels (nothing to dispose).
    private GroupNormKernels? _groupNorm;
    private ActivationKernels? _activation;
    private ChannelOpsKernels? _channelOps;
    private ReductionKernels? _reduction;

    protected override void GroupNormCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation) =>
        (_groupNorm ??= new GroupNormKernels(Accelerator)).Run(Stream, F(x), F(gamma), F(beta), F(y), x.Shape[1], Spatial(x), groups, eps, activation);

    protected override void ActivateCore(Tensor x, Tensor y, Activation activation)
    {
        if (activation == Activation.Identity)
        {
            if (!ReferenceEquals(x.Storage, y.Storage) || x.Offset != y.Offset) CopyCore(x, y);
            return;
        }
        (_activation ??= new ActivationKernels(Accelerator)).Run(Stream, F(x), F(y), activation);
    }

    protected override void ScaleShiftCore(Tensor x, Tensor scaleShift, Tensor y, Activation activation) =>
        (_channelOps ??= new ChannelOpsKernels(Accelerator)).RunScaleShift(Stream, F(x), F(scaleShift), F(y), x.Shape[1], Spatial(x), activation);

    protected override void AddChannelBiasCore(Tensor x, Tensor bias, Tensor y) =>
        (_channelOps ??= new ChannelOpsKernels(Accelerator)).RunAddChannelBias(Stream, F(x), F(bias), F(y), Spatial(x));

    protected override void FlagNonFiniteCore(Tensor x, Tensor firstStep, long step) =>
        (_reduction ??= new ReductionKernels(Accelerator)).FlagNonFinite(Stream, F(x), L(firstStep), step);

    protected override void ReduceCore(Tensor x, Tensor result, Reduction kind) =>
        (_reduction ??= new ReductionKernels(Accelerator)).Run(Stream, F(x), F(result), (int)kind);

    /// <summary>Elements per channel of x [N, C, ...].</summary>
    private static int Spatial(Tensor x) => x.Shape[1] == 0 || x.Shape[0] == 0 ? 0 : checked((int)(x.Length / ((long)x.Shape[0] * x.Shape[1])));
}
