namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    protected override void LinearCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int m, int n, int k, Activation activation) =>
        throw new NotImplementedException("CpuBackend: LinearCore is not implemented yet");

    protected override void BatchedMatMulCore(Tensor a, Tensor b, Tensor c, int batch, int m, int n, int k, bool transposeB, float alpha) =>
        throw new NotImplementedException("CpuBackend: BatchedMatMulCore is not implemented yet");
}
