using System.Numerics;
using DiffusionKernels.Kernels.Cpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using MathNet.Numerics.IntegralTransforms;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class Fft2dTests
{
    /// <summary>Naive orthonormal 2-D DFT in double over [planes, h, w]: direct sums along rows, then along columns.</summary>
    private static (float[] Re, float[] Im) NaiveDft(float[] re, float[]? im, int planes, int h, int w, bool inverse)
    {
        var outRe = new float[re.Length];
        var outIm = new float[re.Length];
        double sign = inverse ? 1 : -1, scale = 1 / Math.Sqrt(h * w);
        for (int p = 0; p < planes; p++)
        {
            var tr = new double[h * w];
            var ti = new double[h * w];
            for (int i = 0; i < h; i++)
                for (int v = 0; v < w; v++)
                {
                    double sr = 0, si = 0;
                    for (int j = 0; j < w; j++)
                    {
                        double a = sign * 2 * Math.PI * ((long)v * j % w) / w;
                        double xr = re[(p * h + i) * w + j], xi = im is null ? 0 : im[(p * h + i) * w + j];
                        sr += xr * Math.Cos(a) - xi * Math.Sin(a);
                        si += xr * Math.Sin(a) + xi * Math.Cos(a);
                    }
                    tr[i * w + v] = sr;
                    ti[i * w + v] = si;
                }
            for (int u = 0; u < h; u++)
                for (int v = 0; v < w; v++)
                {
                    double sr = 0, si = 0;
                    for (int i = 0; i < h; i++)
                    {
                        double a = sign * 2 * Math.PI * ((long)u * i % h) / h;
                        sr += tr[i * w + v] * Math.Cos(a) - ti[i * w + v] * Math.Sin(a);
                        si += tr[i * w + v] * Math.Sin(a) + ti[i * w + v] * Math.Cos(a);
                    }
                    outRe[(p * h + u) * w + v] = (float)(sr * scale);
                    outIm[(p * h + u) * w + v] = (float)(si * scale);
                }
        }
        return (outRe, outIm);
    }

    /// <summary>Naive unscaled 1-D DFT of one line in double.</summary>
    private static (double[] Re, double[] Im) NaiveLine(float[] re, float[] im, bool inverse)
    {
        int n = re.Length;
        var orr = new double[n];
        var oi = new double[n];
        double sign = inverse ? 1 : -1;
        for (int k = 0; k < n; k++)
            for (int j = 0; j < n; j++)
            {
                double a = sign * 2 * Math.PI * ((long)k * j % n) / n;
                orr[k] += re[j] * Math.Cos(a) - im[j] * Math.Sin(a);
                oi[k] += re[j] * Math.Sin(a) + im[j] * Math.Cos(a);
            }
        return (orr, oi);
    }

    // Every algorithm on lengths that exercise it: radix-2, mixed radix with 4s, 2s, odd and large prime radices, Bluestein on primes and composites.
    private static readonly object[][] Lines =
    [
        [1, FftAlgorithm.MixedRadix], [2, FftAlgorithm.Radix2], [16, FftAlgorithm.Radix2], [6, FftAlgorithm.MixedRadix], [12, FftAlgorithm.MixedRadix],
        [45, FftAlgorithm.MixedRadix], [46, FftAlgorithm.MixedRadix], [320, FftAlgorithm.MixedRadix], [368, FftAlgorithm.MixedRadix], [97, FftAlgorithm.MixedRadix],
        [3, FftAlgorithm.Bluestein], [7, FftAlgorithm.Bluestein], [97, FftAlgorithm.Bluestein], [100, FftAlgorithm.Bluestein], [509, FftAlgorithm.Bluestein],
        [16, FftAlgorithm.Bluestein], [1, FftAlgorithm.Bluestein],
    ];

    [TestCaseSource(nameof(Lines))]
    public void Every_algorithm_matches_the_naive_dft(int n, object algorithmCase) // object: FftAlgorithm is internal
    {
        var algorithm = (FftAlgorithm)algorithmCase;
        var plan = FftPlan.For(n, algorithm);
        Assert.That(plan.Algorithm, Is.EqualTo(algorithm));
        const int lanes = 3;
        var re = TestData.Normal(n * lanes, 20 + n);
        var im = TestData.Normal(n * lanes, 40 + n);
        foreach (bool inverse in new[] { false, true })
        {
            var (r, i) = ((float[])re.Clone(), (float[])im.Clone());
            Fft1d.Transform(r, i, lanes, plan, inverse);
            for (int l = 0; l < lanes; l++)
            {
                var lr = Enumerable.Range(0, n).Select(j => re[j * lanes + l]).ToArray();
                var li = Enumerable.Range(0, n).Select(j => im[j * lanes + l]).ToArray();
                var (er, ei) = NaiveLine(lr, li, inverse);
                // Unscaled sums of n unit normals grow like √n; fp32 butterflies (and Bluestein's two length-m transforms) against a double reference.
                double tol = 3e-6 * Math.Sqrt(n) * Math.Log2(Math.Max(2, plan.PaddedLength)) + 1e-6;
                for (int k = 0; k < n; k++)
                {
                    Assert.That(r[k * lanes + l], Is.EqualTo(er[k]).Within(tol), $"n={n} {algorithm} inverse={inverse} re[{k}] lane {l}");
                    Assert.That(i[k * lanes + l], Is.EqualTo(ei[k]).Within(tol), $"n={n} {algorithm} inverse={inverse} im[{k}] lane {l}");
                }
            }
        }
    }

    [TestCase(64, FftAlgorithm.Radix2)]
    [TestCase(320, FftAlgorithm.MixedRadix)]
    [TestCase(368, FftAlgorithm.MixedRadix)]
    [TestCase(509, FftAlgorithm.Bluestein)]
    [TestCase(31, FftAlgorithm.Bluestein)]
    [TestCase(45, FftAlgorithm.MixedRadix)]
    public void Plans_pick_the_cheaper_algorithm(int n, object expectedCase) // object: FftAlgorithm is internal
    {
        var expected = (FftAlgorithm)expectedCase;
        var plan = FftPlan.For(n);
        Assert.That(plan.Algorithm, Is.EqualTo(expected));
        if (expected == FftAlgorithm.MixedRadix) Assert.That(plan.Radices.Aggregate(1, (a, b) => a * b), Is.EqualTo(n));
        if (expected == FftAlgorithm.Bluestein) Assert.That(plan.PaddedLength, Is.GreaterThanOrEqualTo(2 * n - 1).And.LessThan(4 * n));
        Assert.That(FftPlan.Factor(368), Is.EqualTo(new[] { 4, 4, 23 }));
        Assert.That(FftPlan.Factor(320), Is.EqualTo(new[] { 4, 4, 4, 5 }));
        Assert.That(FftPlan.Factor(90), Is.EqualTo(new[] { 2, 3, 3, 5 }));
    }

    private static (float[] Re, float[] Im) Run(Backend b, float[] re, float[]? im, int[] d, bool inverse)
    {
        var shape = new Shape(d);
        using var tr = b.Upload(re, shape);
        using var ti = im is null ? null : b.Upload(im, shape);
        using var or = b.Allocate(shape);
        using var oi = b.Allocate(shape);
        b.Fft2d(tr, ti, or, oi, inverse);
        return (or.ToArray(), oi.ToArray());
    }

    private static int Count(int[] d) => d.Aggregate(1, (p, v) => p * v);

    // Powers of two, mixed radix, Bluestein (61, 97), a 1-point axis, more than one band of rows/columns (> 64), and shapes above the CPU parallel threshold.
    private static readonly int[][] CpuShapes =
        [[1, 1, 8, 8], [2, 3, 16, 4], [1, 2, 7, 5], [1, 1, 1, 6], [2, 1, 12, 32], [1, 1, 64, 128], [2, 2, 48, 80], [1, 1, 3, 70], [1, 1, 61, 97], [1, 1, 130, 20], [1, 1, 40, 45]];
    private static readonly int[][] TinyShapes = [[1, 1, 8, 8], [2, 1, 16, 4], [1, 2, 3, 5], [1, 1, 6, 8], [1, 1, 12, 10], [1, 1, 7, 23]];

    [TestCaseSource(nameof(CpuShapes))]
    public void Cpu_matches_naive_dft_forward_and_inverse(int[] d)
    {
        int planes = d[0] * d[1];
        var re = TestData.Normal(Count(d), 1);
        var im = TestData.Normal(Count(d), 2);
        foreach (bool inverse in new[] { false, true })
        {
            var (er, ei) = NaiveDft(re, im, planes, d[2], d[3], inverse);
            var (ar, ai) = Run(TestBackends.Cpu, re, im, d, inverse);
            // log2(n) float butterfly levels (or n-term float-twiddle sums) against a double reference.
            Close.Assert(er, ar, 2e-5, $"re inverse={inverse}");
            Close.Assert(ei, ai, 2e-5, $"im inverse={inverse}");
        }
    }

    [Test]
    public void Cpu_real_input_matches_naive_and_mathnet()
    {
        int[] d = [2, 1, 32, 16];
        var re = TestData.Normal(Count(d), 3);
        var (er, ei) = NaiveDft(re, null, 2, 32, 16, false);
        var (ar, ai) = Run(TestBackends.Cpu, re, null, d, false);
        Close.Assert(er, ar, 2e-5, "re");
        Close.Assert(ei, ai, 2e-5, "im");

        // MathNet, rows then columns, with its orthonormal (Matlab sign) convention.
        var data = new Complex[32 * 16];
        for (int i = 0; i < data.Length; i++) data[i] = re[i];
        MathNetForward2d(data, 32, 16);
        var mr = data.Select(c => (float)(c.Real / Math.Sqrt(32 * 16))).ToArray();
        var mi = data.Select(c => (float)(c.Imaginary / Math.Sqrt(32 * 16))).ToArray();
        Close.Assert(mr, ar.AsSpan(0, 512), 2e-5, "mathnet re");
        Close.Assert(mi, ai.AsSpan(0, 512), 2e-5, "mathnet im");
    }

    /// <summary>An independent 2-D reference: MathNet's 1-D transform over rows, then columns (Matlab sign, unscaled).</summary>
    private static void MathNetForward2d(Complex[] data, int height, int width)
    {
        var row = new Complex[width];
        for (int y = 0; y < height; y++)
        {
            Array.Copy(data, y * width, row, 0, width);
            Fourier.Forward(row, FourierOptions.Matlab);
            Array.Copy(row, 0, data, y * width, width);
        }
        var col = new Complex[height];
        for (int x = 0; x < width; x++)
        {
            for (int y = 0; y < height; y++) col[y] = data[y * width + x];
            Fourier.Forward(col, FourierOptions.Matlab);
            for (int y = 0; y < height; y++) data[y * width + x] = col[y];
        }
    }

    // On CUDA also image sizes: 256² and 1024-point lines (radix-2), and non-powers of two (the direct DFT).
    private static readonly int[][] CudaShapes = [[4, 2, 256, 256], [1, 1, 1024, 64], [2, 1, 96, 200], [1, 2, 320, 320]];

    private static IEnumerable<TestCaseData> GpuShapes() => GpuTargets.Cases(TinyShapes, CudaShapes);

    [TestCaseSource(nameof(GpuShapes))]
    public void Ilgpu_matches_cpu(int[] d, string device)
    {
        var re = TestData.Normal(Count(d), 4);
        var im = TestData.Normal(Count(d), 5);
        foreach (bool inverse in new[] { false, true })
        {
            var (cr, ci) = Run(TestBackends.Cpu, re, im, d, inverse);
            var (gr, gi) = Run(TestBackends.Get(device), re, im, d, inverse);
            Close.Assert(cr, gr, 2e-5, $"re inverse={inverse}");
            Close.Assert(ci, gi, 2e-5, $"im inverse={inverse}");
        }
        var (rr, ri) = Run(TestBackends.Cpu, re, null, d, false);
        var (hr, hi) = Run(TestBackends.Get(device), re, null, d, false);
        Close.Assert(rr, hr, 2e-5, "real input re");
        Close.Assert(ri, hi, 2e-5, "real input im");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void Is_unitary_and_inverse_undoes_forward(string device)
    {
        Backend b = TestBackends.Get(device);
        int[] d = device == "ilgpu-cpu" ? [1, 2, 8, 6] : [2, 2, 32, 24];
        var shape = new Shape(d);
        var re = TestData.Normal(Count(d), 6);
        var im = TestData.Normal(Count(d), 7);
        using var tr = b.Upload(re, shape);
        using var ti = b.Upload(im, shape);
        using var fr = b.Allocate(shape);
        using var fi = b.Allocate(shape);
        b.Fft2d(tr, ti, fr, fi, inverse: false);
        double Norm(float[] a, float[] c) => a.Zip(c, (x, y) => (double)x * x + (double)y * y).Sum();
        // Parseval to 1e-6 relative: fp32 passes (a few roundings of ε ≈ 6e-8 per point) against a double sum.
        Assert.That(Norm(fr.ToArray(), fi.ToArray()), Is.EqualTo(Norm(re, im)).Within(1e-4).Percent);
        b.Fft2d(fr, fi, fr, fi, inverse: true); // in place
        Close.Assert(re, fr.ToArray(), 2e-6, "re round trip");
        Close.Assert(im, fi.ToArray(), 2e-6, "im round trip");
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void Packed_complex_matches_separate_planes(string device)
    {
        Backend b = TestBackends.Get(device);
        int n = 3, h = 8, w = 5;
        var img = TestData.Normal(n * h * w, 8);
        using var x = b.Upload(img, new Shape(n, 1, h, w));
        using var k = b.Allocate(n, 2, h, w);
        b.Fft2dComplex(x, k, inverse: false);
        var (er, ei) = NaiveDft(img, null, n, h, w, false);
        var packed = k.ToArray();
        for (int s = 0; s < n; s++)
        {
            Close.Assert(er.AsSpan(s * h * w, h * w), packed.AsSpan(2 * s * h * w, h * w), 2e-5, $"sample {s} re");
            Close.Assert(ei.AsSpan(s * h * w, h * w), packed.AsSpan((2 * s + 1) * h * w, h * w), 2e-5, $"sample {s} im");
        }
        b.Fft2dComplex(k, k, inverse: true); // in place back to the image; imaginary part ≈ 0
        var back = k.ToArray();
        for (int s = 0; s < n; s++)
        {
            Close.Assert(img.AsSpan(s * h * w, h * w), back.AsSpan(2 * s * h * w, h * w), 2e-6, $"sample {s} round trip");
            Assert.That(back.AsSpan((2 * s + 1) * h * w, h * w).ToArray().Max(Math.Abs), Is.LessThan(1e-5));
        }
    }

    [Test]
    public void Bad_shapes_are_named()
    {
        var b = TestBackends.Cpu;
        using var a = b.Allocate(1, 1, 4, 4);
        using var c = b.Allocate(1, 1, 4, 8);
        using var o = b.Allocate(1, 1, 4, 4);
        var e = Assert.Throws<ShapeMismatchException>(() => b.Fft2d(a, null, c, o, false))!;
        Assert.That(e.Message, Does.Contain("fft2d").And.Contain("real output"));
        Assert.Throws<ArgumentException>(() => b.Fft2d(a, null, o, o, false));
        using var three = b.Allocate(1, 3, 4, 4);
        using var k = b.Allocate(1, 2, 4, 4);
        e = Assert.Throws<ShapeMismatchException>(() => b.Fft2dComplex(three, k, false))!;
        Assert.That(e.Message, Does.Contain("fft2d complex").And.Contain("input channels"));
    }
}
