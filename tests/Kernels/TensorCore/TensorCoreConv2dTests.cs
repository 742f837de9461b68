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
