using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;
using ILGPU;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private GemmKernels? _gemm;

    private TensorCoreGemmKernels? _tensorCoreGemm;

    private GemmKernels Gemm => _gemm ??= new GemmKernels(Accelerator);

    /// <summary>The GEMM of the precision tier: the fp32 CUDA-core kernel, or the tensor-core ones (tile and split-K by problem size).</summary>
    private void RunGemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmParams p, int batch) =>
        RunGemm(a, b, c, bias, c, p, batch);

    /// <summary>As above, with a residual (laid out like C) read when <see cref="GemmParams.HasResidual"/> is set.</summary>
    private void RunGemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p, int batch)
    {
        if (HalfTier)
            RunHalfGemm(a, b, c, bias, residual, p, batch);
        else if (!TryTensorCoreGemm(a, b, c, bias, residual, p, batch))
            Gemm.Run(Stream, a, b, c, bias, residual, p, batch);
    }

    private protected override void LinearCore(Tensor x, Tensor w, Tensor? bias, Tensor y, int m, int n, int k, Activation activation)
    {
        var p = new GemmParams { M = m, N = n, K = k, Lda = k, Ldb = k, Ldc = n, TransB = 1, Alpha = 1f, Activation = activation };
        RunGemm(F(x), F(w), F(y), bias is null ? ArrayView<float>.Empty : F(bias), p, 1);
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
        RunGemm(F(a), F(b), F(c), ArrayView<float>.Empty, p, batch);
    }
}
