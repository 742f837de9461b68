using DiffusionKernels.Kernels;
using Cpu = DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void LinearCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int m, int n, int k, Activation activation) =>
        Cpu.Linear.Forward(F(x), F(w), bias is null ? default : F(bias), F(y), m, n, k, activation);

    private protected override void BatchedMatMulCore(Tensor a, Tensor b, Tensor c, int batch, int m, int n, int k, bool transposeB, float alpha) =>
        Cpu.BatchedMatMul.Forward(F(a), F(b), F(c), batch, m, n, k, transposeB, alpha);
}
