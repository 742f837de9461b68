using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    protected override void GroupNormCore(Tensor x, Tensor gamma, Tensor beta, Tensor y, int groups, float eps, Activation activation) =>
        Kernels.Cpu.GroupNorm.Forward(F(x), F(gamma), F(beta), F(y), x.Shape[0], x.Shape[1], Spatial(x), groups, eps, activation);

    protected override void ActivateCore(Tensor x, Tensor y, Activation activation)
    {
        if (activation == Activation.Identity)
        {
            if (!SameElements(x, y)) F(x).CopyTo(F(y));
            return;
        }
        Activations.Forward(F(x), F(y), activation);
    }

    protected override void ScaleShiftCore(Tensor x, Tensor scaleShift, Tensor y, Activation activation) =>
        ChannelOps.ScaleShift(F(x), F(scaleShift), F(y), x.Shape[0], x.Shape[1], Spatial(x), activation);

    protected override void AddChannelBiasCore(Tensor x, Tensor bias, Tensor y) =>
        ChannelOps.AddChannelBias(F(x), F(bias), F(y), x.Shape[0], x.Shape[1], Spatial(x));

    protected override void FlagNonFiniteCore(Tensor x, Tensor firstStep, long step) =>
        Reductions.FlagNonFinite(F(x), L(firstStep), x.Shape[0], step);

    protected override void ReduceCore(Tensor x, Tensor result, Reduction kind) =>
        Reductions.Forward(F(x), F(result), x.Shape[0], (int)kind);

    /// <summary>Elements per channel of x [N, C, ...].</summary>
    private static int Spatial(Tensor x) => x.Shape[1] == 0 || x.Shape[0] == 0 ? 0 : checked((int)(x.Length / ((long)x.Shape[0] * x.Shape[1])));

    private static bool SameElements(Tensor a, Tensor b) => ReferenceEquals(a.Storage, b.Storage) && a.Offset == b.Offset;
}
