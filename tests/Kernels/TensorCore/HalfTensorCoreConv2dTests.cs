using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// The fp16/bf16 tensor-core implicit-GEMM convolution, reached through the backend's fp16 and bf16 tiers, against the
/// CPU backend's convolution: on inputs rounded to the format at the fp32 tolerance, against fp32 within the format's
/// bound, the fused convs of a compiled U-Net, and fp16's overflow turning into non-finite outputs.
/// </summary>
public class HalfTensorCoreConv2dTests
{
    private IlgpuBackend? _fp16, _bf16;

    [OneTimeSetUp]
    public void Open()
    {
        // Backends of their own: the shared emulator stays fp32.
        _fp16 = (IlgpuBackend)Devices.Create("ilgpu-cpu", Precision.Fp16);
        _bf16 = (IlgpuBackend)Devices.Create("ilgpu-cpu", Precision.Bf16);
    }

    [OneTimeTearDown]
    public void Close()
    {
        _fp16?.Dispose();
        _bf16?.Dispose();
    }

    private IlgpuBackend Tier(string format) => format == "bf16" ? _bf16! : _fp16!;

    private static float[] Rounded(string format, float[] v) => [.. v.Select(x => HalfTensorCoreGemmTests.Round(format, x))];

    public sealed record Case(string Format, int Batch, int Cin, int H, int W, int Cout, int Kernel, int Stride, int Padding, bool Bias, bool Residual, float Scale);

    // Odd sizes around the 64-channel and 64-pixel tiles and the 32-deep K slice (K = 27, 36, 9, 45, 32); padding and
    // stride edges; 1×1; each in both formats.
    private static IEnumerable<Case> Cases() =>
        new (int, int, int, int, int, int, int, int, bool, bool, float)[]
        {
            (1, 3, 5, 7, 5, 3, 1, 1, true, false, 1f),
            (2, 4, 6, 5, 70, 3, 2, 1, true, true, 0.5f),
            (1, 9, 9, 9, 3, 1, 1, 0, false, true, 1f),
            (1, 5, 8, 8, 7, 3, 1, 1, true, false, 1f),
            (1, 2, 7, 6, 4, 4, 2, 2, false, false, 2f),
        }.SelectMany(c => new[] { "fp16", "bf16" }.Select(f =>
            new Case(f, c.Item1, c.Item2, c.Item3, c.Item4, c.Item5, c.Item6, c.Item7, c.Item8, c.Item9, c.Item10, c.Item11)));

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
        var actual = Run(Tier(c.Format), xs, ws);

        // 1. Rounded inputs on the CPU: only the summation order differs (≤ 81 products), fp32 bound 1e-5.
        Support.Close.Assert(Run(TestBackends.Cpu, Rounded(c.Format, xs), Rounded(c.Format, ws)), actual, 1e-5, $"{c.Format} conv vs CPU conv on rounded inputs");

        // 2. fp32 inputs: each product moves by ≤ (2u + u²)|w·x| + 1.01·s(|w| + |x|) (u, s: the format's unit
        //    roundoff and subnormal step), times |scale|, plus the fp32 summation bound.
        var (u, s) = HalfTensorCoreGemmTests.Rounding(c.Format);
        var exact = Run(TestBackends.Cpu, xs, ws);
        var (products, inputs) = AbsSums(c, xs, ws, ho, wo);
        double maxRef = exact.Max(v => Math.Abs(v));
        for (int i = 0; i < exact.Length; i++)
        {
            double bound = Math.Abs(c.Scale) * ((2 * u + u * u) * products[i] + 1.01 * s * inputs[i]) + 1e-5 * maxRef;
            Assert.That(Math.Abs(actual[i] - exact[i]), Is.LessThanOrEqualTo(bound), $"element {i}: {actual[i]} vs fp32 {exact[i]}");
        }
        Assert.That(exact.Zip(actual).Any(p => p.First != p.Second), Is.True, $"the {c.Format} conv equals fp32 exactly");
    }

    // The fused convs follow the tier: conv1 with the time-embedding bias in its epilogue (65 channels across the 64
    // tile, 2 samples, a column offset into a wider bias) and the upsampler's conv reading x through a nearest ×2 upsample.
    [TestCase("fp16")]
    [TestCase("bf16")]
    public void ConvWithSampleBiasMatchesCpuOnRoundedInputs(string format)
    {
        const int n = 2, cin = 3, h = 5, w = 6, cout = 65, stride = 9, offset = 4;
        var xs = TestData.Normal(n * cin * h * w, 61);
        var ws = TestData.Normal(cout * cin * 9, 62, 0.2f);
        var bs = TestData.Normal(cout, 63);
        var sbs = TestData.Normal(n * (cout + stride), 64);
        float[] Run(Backend be, bool round)
        {
            using var tx = be.Upload(round ? Rounded(format, xs) : xs, new Shape(n, cin, h, w));
            using var tw = be.Upload(round ? Rounded(format, ws) : ws, new Shape(cout, cin, 3, 3));
            using var tb = be.Upload(bs, new Shape(cout));
            using var tsb = be.Upload(sbs, new Shape(n, cout + stride));
            using var ty = be.Allocate(new Shape(n, cout, h, w));
            be.Conv2dWithSampleBias(tx, tw, tb, tsb, offset, ty, 1, 1);
            return ty.ToArray();
        }
        AssertHalfResult(Run(TestBackends.Cpu, true), Run(TestBackends.Cpu, false), Run(Tier(format), false), $"{format} conv + sample bias");
    }

    [TestCase("fp16")]
    [TestCase("bf16")]
    public void ConvOfUpsampledMatchesCpuOnRoundedInputs(string format)
    {
        const int n = 2, cin = 4, h = 3, w = 5, cout = 7;
        var xs = TestData.Normal(n * cin * h * w, 71);
        var ws = TestData.Normal(cout * cin * 9, 72, 0.2f);
        var bs = TestData.Normal(cout, 73);
        float[] Run(Backend be, bool round)
        {
            using var tx = be.Upload(round ? Rounded(format, xs) : xs, new Shape(n, cin, h, w));
            using var tw = be.Upload(round ? Rounded(format, ws) : ws, new Shape(cout, cin, 3, 3));
            using var tb = be.Upload(bs, new Shape(cout));
            using var ty = be.Allocate(new Shape(n, cout, 2 * h, 2 * w));
            be.Conv2dOfUpsampled(tx, tw, tb, ty, 1, 1);
            return ty.ToArray();
        }
        AssertHalfResult(Run(TestBackends.Cpu, true), Run(TestBackends.Cpu, false), Run(Tier(format), false), $"{format} conv of a nearest ×2 upsampled input");
    }

    [Test]
    public void Fp16OverflowBecomesNonFiniteWhereBf16AndFp32StayFinite()
    {
        // One input pixel at 70,000 (> 65504, fp16's largest finite value): fp16 rounds it to +Inf, so every output
        // whose taps reach it is non-finite (Inf, or NaN where Inf meets a weight of the other sign or zero); the
        // others stay finite. bf16 has fp32's range and stays finite. Never a saturated, silently wrong value.
        const int cin = 2, h = 5, w = 5, cout = 3;
        var xs = TestData.Normal(cin * h * w, 81);
        xs[(1 * h + 2) * w + 2] = 70000f; // channel 1, centre pixel
        var ws = TestData.Normal(cout * cin * 9, 82, 0.3f);
        float[] Run(Backend be)
        {
            using var tx = be.Upload(xs, new Shape(1, cin, h, w));
            using var tw = be.Upload(ws, new Shape(cout, cin, 3, 3));
            using var ty = be.Allocate(new Shape(1, cout, h, w));
            be.Conv2d(tx, tw, null, ty, 1, 1);
            return ty.ToArray();
        }
        var fp16 = Run(_fp16!);
        Assert.That(Run(TestBackends.Cpu).All(float.IsFinite), Is.True, "fp32 holds 70,000 × weights");
        Assert.That(Run(_bf16!).All(float.IsFinite), Is.True, "bf16 has fp32's range");
        for (int co = 0; co < cout; co++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    bool reaches = Math.Abs(y - 2) <= 1 && Math.Abs(x - 2) <= 1;
                    float v = fp16[(co * h + y) * w + x];
                    Assert.That(float.IsFinite(v), Is.EqualTo(!reaches), $"output ({co}, {y}, {x}) = {v}: finite exactly when its taps miss the overflowing input");
                }
    }

    /// <summary>
    /// The 16-bit result equals the CPU's on rounded inputs up to the summation order (≤ 27 products in every caller:
    /// fp32 bound 1e-5 of the largest output), and differs from the exact fp32 result, so the tensor-core kernel ran.
    /// </summary>
    private static void AssertHalfResult(float[] cpuOnRounded, float[] cpuExact, float[] half, string what)
    {
        Support.Close.Assert(cpuOnRounded, half, 1e-5, $"{what} vs CPU on rounded inputs");
        Assert.That(cpuExact.Zip(half).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-5), $"{what} ran the exact kernel");
    }

    /// <summary>Σ |w·x| and Σ (|w| + |x|) over each output's taps (NCHW, zero padding): the scales of the rounding error.</summary>
    private static (double[] Products, double[] Inputs) AbsSums(Case c, float[] x, float[] w, int ho, int wo)
    {
        var products = new double[c.Batch * c.Cout * ho * wo];
        var inputs = new double[products.Length];
        for (int n = 0; n < c.Batch; n++)
            for (int co = 0; co < c.Cout; co++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                    {
                        double p = 0, s = 0;
                        for (int ci = 0; ci < c.Cin; ci++)
                            for (int ky = 0; ky < c.Kernel; ky++)
                                for (int kx = 0; kx < c.Kernel; kx++)
                                {
                                    int iy = oy * c.Stride - c.Padding + ky, ix = ox * c.Stride - c.Padding + kx;
                                    if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                                    double wv = Math.Abs(w[((co * c.Cin + ci) * c.Kernel + ky) * c.Kernel + kx]), xv = Math.Abs(x[((n * c.Cin + ci) * c.H + iy) * c.W + ix]);
                                    p += wv * xv;
                                    s += wv + xv;
                                }
                        int o = ((n * c.Cout + co) * ho + oy) * wo + ox;
                        products[o] = p;
                        inputs[o] = s;
                    }
        return (products, inputs);
    }
}
