using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// The TF32 tensor-core implicit-GEMM convolution, reached through the backend's tf32 tier, against the CPU
/// backend's convolution: on TF32-rounded inputs at the fp32 tolerance, and against fp32 within TF32's bound.
/// </summary>
public class TensorCoreConv2dTests
{
    private IlgpuBackend? _tf32;

    [OneTimeSetUp]
    public void Open() => _tf32 = (IlgpuBackend)Devices.Create("ilgpu-cpu", Precision.Tf32); // its own: the shared emulator stays fp32

    [OneTimeTearDown]
    public void Close() => _tf32?.Dispose();

    public sealed record Case(int Batch, int Cin, int H, int W, int Cout, int Kernel, int Stride, int Padding, bool Bias, bool Residual, float Scale);

    // Odd sizes around the 64-channel and 64-pixel tiles and the 32-deep K slice; padding and stride edges; 1×1.
    private static IEnumerable<Case> Cases() =>
    [
        new(1, 3, 5, 7, 5, 3, 1, 1, true, false, 1f),
        new(2, 4, 6, 5, 70, 3, 2, 1, true, true, 0.5f),
        new(1, 9, 9, 9, 3, 1, 1, 0, false, true, 1f),
        new(1, 5, 8, 8, 7, 3, 1, 1, true, false, 1f),
        new(1, 2, 7, 6, 4, 4, 2, 2, false, false, 2f),
    ];

    [TestCaseSource(nameof(Cases))]
    public void MatchesCpuConvolution(Case c)
    {
        int ho = (c.H + 2 * c.Padding - c.Kernel) / c.Stride + 1, wo = (c.W + 2 * c.Padding - c.Kernel) / c.Stride + 1;
        int k = c.Cin * c.Kernel * c.Kernel;
        var xs = TestData.Normal(c.Batch * c.Cin * c.H * c.W, 51);
        var ws = TestData.Normal(c.Cout * k, 52, 1f / MathF.Sqrt(k));
        var bs = TestData.Normal(c.Cout, 53);
        var rs = TestData.Normal(c.Batch * c.Cout * ho * wo, 54);
        float[] Run(Backend be, float[] x, float[] w)
        {
            using var tx = be.Upload(x, new Shape(c.Batch, c.Cin, c.H, c.W));
            using var tw = be.Upload(w, new Shape(c.Cout, c.Cin, c.Kernel, c.Kernel));
            using var tb = c.Bias ? be.Upload(bs, new Shape(c.Cout)) : null;
            using var ty = be.Upload(rs, new Shape(c.Batch, c.Cout, ho, wo)); // the residual is y itself
            be.Conv2d(tx, tw, tb, ty, c.Stride, c.Padding, residual: c.Residual ? ty : null, outputScale: c.Scale);
            return ty.ToArray();
        }
        var actual = Run(_tf32!, xs, ws);

        // 1. TF32-rounded inputs on the CPU: only the summation order differs (≤ 72 products), fp32 bound 1e-5.
        var rounded = Run(TestBackends.Cpu, [.. xs.Select(TensorCoreGemmTests.RoundTf32)], [.. ws.Select(TensorCoreGemmTests.RoundTf32)]);
        Support.Close.Assert(rounded, actual, 1e-5, "tf32 conv vs CPU conv on TF32-rounded inputs");

        // 2. fp32 inputs: each product moves by ≤ 2^-10 (+2^-22) of |w·x| under TF32 rounding, times |scale|.
        var exact = Run(TestBackends.Cpu, xs, ws);
        var absSums = AbsSums(c, xs, ws, ho, wo);
        double maxRef = exact.Max(v => Math.Abs(v));
        for (int i = 0; i < exact.Length; i++)
        {
            double bound = (Math.Pow(2, -10) + Math.Pow(2, -22)) * Math.Abs(c.Scale) * absSums[i] + 1e-5 * maxRef;
            Assert.That(Math.Abs(actual[i] - exact[i]), Is.LessThanOrEqualTo(bound), $"element {i}: {actual[i]} vs fp32 {exact[i]}");
        }
    }

    // The fused convs of a compiled U-Net follow the tier too: conv1 with the time-embedding bias in its epilogue (65
    // channels across the 64 tile, 2 samples so each reads its own row, a column offset into a wider bias) and the
    // upsampler's conv reading x through a nearest ×2 upsample (odd source sizes).
    [Test]
    public void ConvWithSampleBiasMatchesCpuOnTf32RoundedInputs()
    {
        const int n = 2, cin = 3, h = 5, w = 6, cout = 65, stride = 9, offset = 4;
        var xs = TestData.Normal(n * cin * h * w, 61);
        var ws = TestData.Normal(cout * cin * 9, 62, 0.2f);
        var bs = TestData.Normal(cout, 63);
        var sbs = TestData.Normal(n * (cout + stride), 64);
        float[] Run(Backend be, bool round)
        {
            using var tx = be.Upload(round ? [.. xs.Select(TensorCoreGemmTests.RoundTf32)] : xs, new Shape(n, cin, h, w));
            using var tw = be.Upload(round ? [.. ws.Select(TensorCoreGemmTests.RoundTf32)] : ws, new Shape(cout, cin, 3, 3));
            using var tb = be.Upload(bs, new Shape(cout));
            using var tsb = be.Upload(sbs, new Shape(n, cout + stride));
            using var ty = be.Allocate(new Shape(n, cout, h, w));
            be.Conv2dWithSampleBias(tx, tw, tb, tsb, offset, ty, 1, 1);
            return ty.ToArray();
        }
        AssertTensorCoreResult(Run(TestBackends.Cpu, true), Run(TestBackends.Cpu, false), Run(_tf32!, false), "conv + sample bias");
    }

    [Test]
    public void ConvOfUpsampledMatchesCpuOnTf32RoundedInputs()
    {
        const int n = 2, cin = 4, h = 3, w = 5, cout = 7;
        var xs = TestData.Normal(n * cin * h * w, 71);
        var ws = TestData.Normal(cout * cin * 9, 72, 0.2f);
        var bs = TestData.Normal(cout, 73);
        float[] Run(Backend be, bool round)
        {
            using var tx = be.Upload(round ? [.. xs.Select(TensorCoreGemmTests.RoundTf32)] : xs, new Shape(n, cin, h, w));
            using var tw = be.Upload(round ? [.. ws.Select(TensorCoreGemmTests.RoundTf32)] : ws, new Shape(cout, cin, 3, 3));
            using var tb = be.Upload(bs, new Shape(cout));
            using var ty = be.Allocate(new Shape(n, cout, 2 * h, 2 * w));
            be.Conv2dOfUpsampled(tx, tw, tb, ty, 1, 1);
            return ty.ToArray();
        }
        AssertTensorCoreResult(Run(TestBackends.Cpu, true), Run(TestBackends.Cpu, false), Run(_tf32!, false), "conv of a nearest ×2 upsampled input");
    }

    /// <summary>
    /// The tf32 result equals the CPU's on TF32-rounded inputs up to the summation order (≤ 40 products in every
    /// caller: fp32 bound 1e-5 of the largest output), and differs from the exact fp32 result, so the tensor-core kernel really ran.
    /// </summary>
    internal static void AssertTensorCoreResult(float[] cpuOnRounded, float[] cpuExact, float[] tf32, string what)
    {
        Support.Close.Assert(cpuOnRounded, tf32, 1e-5, $"tf32 {what} vs CPU on TF32-rounded inputs");
        Assert.That(cpuExact.Zip(tf32).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-5), $"tf32 {what} ran the exact kernel");
    }

    /// <summary>Σ |w|·|x| over each output's taps (NCHW, zero padding), the scale of TF32's error.</summary>
    private static double[] AbsSums(Case c, float[] x, float[] w, int ho, int wo)
    {
        var s = new double[c.Batch * c.Cout * ho * wo];
        for (int n = 0; n < c.Batch; n++)
            for (int co = 0; co < c.Cout; co++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                    {
                        double sum = 0;
                        for (int ci = 0; ci < c.Cin; ci++)
                            for (int ky = 0; ky < c.Kernel; ky++)
                                for (int kx = 0; kx < c.Kernel; kx++)
                                {
                                    int iy = oy * c.Stride - c.Padding + ky, ix = ox * c.Stride - c.Padding + kx;
                                    if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                                    sum += Math.Abs((double)w[((co * c.Cin + ci) * c.Kernel + ky) * c.Kernel + kx] * x[((n * c.Cin + ci) * c.H + iy) * c.W + ix]);
                                }
                        s[((n * c.Cout + co) * ho + oy) * wo + ox] = sum;
                    }
        return s;
    }
}
