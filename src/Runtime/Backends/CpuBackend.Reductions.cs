using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void FlagNonFiniteCore(Tensor x, Tensor firstStep, long step) =>
        Reductions.FlagNonFinite(F(x), L(firstStep), x.Shape[0], step);

    private protected override void ReduceCore(Tensor x, Tensor result, Reduction kind) =>
        Reductions.Forward(F(x), F(result), x.Shape[0], (int)kind);
}
