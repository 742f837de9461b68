using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;
using ILGPU;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private GemmKernels? _gemm;

    private GemmKernels Gemm => _gemm ??= new GemmKernels(Accelerator);

    private protected override void LinearCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int m, int n, int k, Activation activation)
    {
        var p = new GemmParams { M = m, N = n, K = k, Lda = k, Ldb = k, Ldc = n, TransB = 1, Alpha = 1f, Activation = activation };
        Gemm.Run(Stream, F(x), F(w), F(y), bias is null ? ArrayView<float>.Empty : F(bias), p, 1);
    }

    private protected override void BatchedMatMulCore(Tensor a, Tensor b, Tensor c, int batch, int m, int n, int k, bool transposeB, float alpha)
    {
        var p = new GemmParams
        {
            M = m,
            N = n,
            K = k,
            Lda = k,
            Ldb = transposeB ? k : n,
            Ldc = n,
            StrideA = (long)m * k,
            StrideB = (long)k * n,
            StrideC = (long)m * n,
            TransB = transposeB ? 1 : 0,
            Alpha = alpha,
        };
        Gemm.Run(Stream, F(a), F(b), F(c), ArrayView<float>.Empty, p, batch);
    }
}
