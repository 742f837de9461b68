using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>The fp16 and bf16 tiers: named and parsed, refused by the CPU backend, routing matrix products to the 16-bit tensor-core kernels.</summary>
public class HalfPrecisionTierTests
{
    [Test]
    public void NamesParse()
    {
        Assert.That(Precisions.Parse("fp16"), Is.EqualTo(Precision.Fp16));
        Assert.That(Precisions.Parse(" BF16 "), Is.EqualTo(Precision.Bf16));
        Assert.That(Precision.Fp16.Name(), Is.EqualTo("fp16"));
        Assert.That(Precision.Bf16.Name(), Is.EqualTo("bf16"));
    }

    [TestCase("fp16")]
    [TestCase("bf16")]
    public void TheCpuBackendRefusesThemInsteadOfRunningExactly(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => Devices.Create("cpu", Precisions.Parse(name)));
        Assert.That(e!.Message, Does.Contain(name).And.Contain("CUDA").And.Contain("fp32 only"));
    }

    [TestCase("fp16")]
    [TestCase("bf16")]
    public void LinearAndBatchedMatMulRouteToTheHalfKernelsAndBackToFp32(string name)
    {
        // A backend of its own: the shared emulator must keep the default tier for the other tests.
        using var backend = (IlgpuBackend)Devices.Create("ilgpu-cpu", Precisions.Parse(name));
        Assert.That(backend.Precision, Is.EqualTo(Precisions.Parse(name)));
        int m = 9, n = 11, k = 37;
        var xs = TestData.Normal(m * k, 41);
        var ws = TestData.Normal(n * k, 42, 1f / MathF.Sqrt(k));
        var bs = TestData.Normal(n, 43);
        float[] Linear(Backend be, float[] x, float[] w)
        {
            using var tx = be.Upload(x, new Shape(m, k));
            using var tw = be.Upload(w, new Shape(n, k));
            using var tb = be.Upload(bs, new Shape(n));
            using var ty = be.Allocate(m, n);
            be.Linear(tx, tw, tb, ty, Activation.Identity);
            return ty.ToArray();
        }
        float[] MatMul(Backend be, float[] a, float[] b)
        {
            using var ta = be.Upload(a, new Shape(1, m, k));
            using var tb = be.Upload(b, new Shape(1, k, n));
            using var tc = be.Allocate(1, m, n);
            be.BatchedMatMul(ta, tb, tc, transposeB: false, alpha: 0.5f);
            return tc.ToArray();
        }
        var cpu = TestBackends.Cpu;
        float[] xr = [.. xs.Select(v => HalfTensorCoreGemmTests.Round(name, v))], wr = [.. ws.Select(v => HalfTensorCoreGemmTests.Round(name, v))];

        // The CPU result on rounded inputs, to fp32 accumulation-order error (1e-5 of the largest output).
        var halfLinear = Linear(backend, xs, ws);
        Close.Assert(Linear(cpu, xr, wr), halfLinear, 1e-5, $"{name} linear");
        Close.Assert(MatMul(cpu, xr, wr), MatMul(backend, xs, ws), 1e-5, $"{name} batched matmul");
        // …and not the fp32 result: the tier really changed the kernel (rounding moves outputs by ≥ 1e-4 here).
        var fp32 = Linear(cpu, xs, ws);
        Assert.That(fp32.Zip(halfLinear).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-5), $"{name} ran the exact kernel");

        backend.Precision = Precision.Fp32;
        Close.Assert(fp32, Linear(backend, xs, ws), 1e-5, "back to fp32");
    }
}
