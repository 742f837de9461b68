using DiffusionKernels.Kernels.Gpu;
using Cpu = DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    protected override void LinearCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int m, int n, int k, Activation activation) =>
        Cpu.Linear.Forward(F(x), F(w), bias is null ? default : F(bias), F(y), m, n, k, GemmActivation.Kind(activation));

    protected override void BatchedMatMulCore(Tensor a, Tensor b, Tensor c, int batch, int m, int n, int k, bool transposeB, float alpha) =>
        Cpu.BatchedMatMul.Forward(F(a), F(b), F(c), batch, m, n, k, transposeB, alpha);
}

/// <summary>Maps the runtime's activation enum onto the kernels' one (the Kernels assembly cannot see Runtime).</summary>
internal static class GemmActivation
{
    public static ActivationKind Kind(Activation activation) => activation switch
    {
        Activation.Identity => ActivationKind.Identity,
        Activation.SiLU => ActivationKind.SiLU,
        Activation.GeluTanh => ActivationKind.GeluTanh,
        Activation.GeluExact => ActivationKind.GeluExact,
        Activation.Mish => ActivationKind.Mish,
        Activation.Relu => ActivationKind.Relu,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation"),
    };
}
