using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>The precision tier: fp32 stays exact by default, tf32 routes matrix products to the tensor-core kernels.</summary>
public class PrecisionTierTests
{
    [Test]
    public void NamesParseAndUnknownOnesAreErrors()
    {
        Assert.That(Precisions.Parse("fp32"), Is.EqualTo(Precision.Fp32));
        Assert.That(Precisions.Parse(" TF32 "), Is.EqualTo(Precision.Tf32));
        Assert.That(Precision.Tf32.Name(), Is.EqualTo("tf32"));
        var e = Assert.Throws<ArgumentException>(() => Precisions.Parse("fp8"));
        Assert.That(e!.Message, Does.Contain("'fp8'").And.Contain("fp32, tf32, fp16, bf16"));
    }

    [Test]
    public void TheCpuBackendRefusesTf32InsteadOfRunningExactly()
    {
        var e = Assert.Throws<ArgumentException>(() => Devices.Create("cpu", Precision.Tf32));
        Assert.That(e!.Message, Does.Contain("tf32").And.Contain("CUDA").And.Contain("fp32 only"));
        using var exact = Devices.Create("cpu", Precision.Fp32);
        Assert.That(exact, Is.InstanceOf<CpuBackend>());
    }

    [Test]
    public void Tf32RoutesLinearAndBatchedMatMulToTensorCoresAndFp32StaysExact()
    {
        // A backend of its own: the shared emulator must keep the default tier for the other tests.
        using var backend = (IlgpuBackend)Devices.Create("ilgpu-cpu", Precision.Tf32);
        Assert.That(backend.Precision, Is.EqualTo(Precision.Tf32));
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
        float[] xr = [.. xs.Select(TensorCoreGemmTests.RoundTf32)], wr = [.. ws.Select(TensorCoreGemmTests.RoundTf32)];

        // tf32: the CPU result on TF32-rounded inputs, to fp32 accumulation-order error (1e-5 of the largest output).
        var tf32Linear = Linear(backend, xs, ws);
        Close.Assert(Linear(cpu, xr, wr), tf32Linear, 1e-5, "tf32 linear");
        Close.Assert(MatMul(cpu, xr, wr), MatMul(backend, xs, ws), 1e-5, "tf32 batched matmul");
        // …and not the fp32 result: the tier really changed the kernel (TF32 rounding moves outputs by ~1e-4 here).
        var fp32 = Linear(cpu, xs, ws);
        Assert.That(fp32.Zip(tf32Linear).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-5), "tf32 ran the exact kernel");

        backend.Precision = Precision.Fp32;
        Close.Assert(fp32, Linear(backend, xs, ws), 1e-5, "back to fp32");
    }
}
