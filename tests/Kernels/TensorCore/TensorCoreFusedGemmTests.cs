using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// The fused attention GEMMs of a compiled U-Net in the tf32 tier: the stacked q/k/v projection (per-batch bias stride)
/// and the out-projection written as NCHW (per-row bias, residual and scale) run on the tensor-core GEMM, against the
/// CPU backend on TF32-rounded inputs.
/// </summary>
public class TensorCoreFusedGemmTests
{
    private IlgpuBackend? _tf32;

    [OneTimeSetUp]
    public void Open() => _tf32 = (IlgpuBackend)Devices.Create("ilgpu-cpu", Precision.Tf32); // its own: the shared emulator stays fp32

    [OneTimeTearDown]
    public void Close() => _tf32?.Dispose();

    [Test]
    public void StackedLinearRunsOnTensorCores()
    {
        const int z = 3, m = 70, n = 9, k = 37; // 70 rows: one past a 64 tile; k across the 32 slice
        var xs = TestData.Normal(m * k, 81);
        var ws = TestData.Normal(z * n * k, 82, 1f / MathF.Sqrt(k));
        var bs = TestData.Normal(z * n, 83);
        float[] Run(Backend be, bool round)
        {
            using var tx = be.Upload(round ? Rounded(xs) : xs, new Shape(m, k));
            using var tw = be.Upload(round ? Rounded(ws) : ws, new Shape(z, n, k));
            using var tb = be.Upload(bs, new Shape(z, n));
            using var ty = be.Allocate(z, m, n);
            be.StackedLinear(tx, tw, tb, ty);
            return ty.ToArray();
        }
        TensorCoreConv2dTests.AssertTensorCoreResult(Run(TestBackends.Cpu, true), Run(TestBackends.Cpu, false), Run(_tf32!, false), "stacked linear");
    }

    [Test]
    public void LinearToNchwRunsOnTensorCores()
    {
        const int samples = 2, c = 65, h = 3, w = 5, k = 33; // 65 channels: one past a 64 tile; k one past the slice
        var tokens = TestData.Normal(samples * h * w * k, 91);
        var ws = TestData.Normal(c * k, 92, 1f / MathF.Sqrt(k));
        var bs = TestData.Normal(c, 93);
        var residual = TestData.Normal(samples * c * h * w, 94);
        float[] Run(Backend be, bool round)
        {
            using var tt = be.Upload(round ? Rounded(tokens) : tokens, new Shape(samples, h * w, k));
            using var tw = be.Upload(round ? Rounded(ws) : ws, new Shape(c, k));
            using var tb = be.Upload(bs, new Shape(c));
            using var tr = be.Upload(residual, new Shape(samples, c, h, w));
            using var ty = be.Allocate(samples, c, h, w);
            be.LinearToNchw(tt, tw, tb, ty, tr, 0.5f);
            return ty.ToArray();
        }
        TensorCoreConv2dTests.AssertTensorCoreResult(Run(TestBackends.Cpu, true), Run(TestBackends.Cpu, false), Run(_tf32!, false), "out-projection to NCHW");
    }

    private static float[] Rounded(float[] v) => [.. v.Select(TensorCoreGemmTests.RoundTf32)];
}
