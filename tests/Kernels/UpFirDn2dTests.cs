using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Runtime.Models.Layers;
using DiffusionKernels.Runtime.Plan;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

public class UpFirDn2dTests
{
    /// <summary>
    /// upfirdn2d_native spelled out: build the zero-inserted, padded plane, convolve with the flipped kernel
    /// at every position, keep every down-th sample.
    /// </summary>
    private static float[] Reference(float[] x, float[] k, int planes, int h, int w, int kh, int kw, int up, int down, int p0, int p1)
    {
        int zh = h * up + p0 + p1, zw = w * up + p0 + p1;
        int oh = (zh - kh) / down + 1, ow = (zw - kw) / down + 1;
        var y = new float[planes * oh * ow];
        var z = new double[zh * zw];
        for (int p = 0; p < planes; p++)
        {
            Array.Clear(z);
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                {
                    int a = i * up + p0, b = j * up + p0;
                    if (a >= 0 && a < zh && b >= 0 && b < zw) z[a * zw + b] = x[(p * h + i) * w + j];
                }
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double sum = 0;
                    for (int u = 0; u < kh; u++)
                        for (int v = 0; v < kw; v++)
                            sum += k[(kh - 1 - u) * kw + kw - 1 - v] * z[(i * down + u) * zw + j * down + v];
                    y[(p * oh + i) * ow + j] = (float)sum;
                }
        }
        return y;
    }

    private static float[] Run(Backend b, float[] x, float[] k, int[] d, int kh, int kw, int up, int down, int p0, int p1)
    {
        using var xt = b.Upload(x, new Shape(d));
        using var kt = b.Upload(k, new Shape(kh, kw));
        int oh = Backend.UpFirDn2dOutputSize(d[2], kh, up, down, p0, p1), ow = Backend.UpFirDn2dOutputSize(d[3], kw, up, down, p0, p1);
        using var yt = b.Allocate(d[0], d[1], oh, ow);
        b.UpFirDn2d(xt, kt, yt, up, down, p0, p1);
        return yt.ToArray();
    }

    // (n, c, h, w, kh, kw, up, down, padBefore, padAfter): the two FIR resamplers, odd sizes, asymmetric and
    // non-square kernels, factor 3, a cropping (negative) pad, and plane counts big enough to split over cores.
    private static readonly object[] SmallCases =
    [
        new[] { 1, 3, 7, 5, 4, 4, 1, 2, 1, 1 },
        new[] { 2, 3, 7, 5, 4, 4, 2, 1, 2, 1 },
        new[] { 1, 2, 9, 6, 4, 3, 2, 2, 3, 0 },
        new[] { 1, 5, 5, 8, 3, 5, 3, 1, 0, 2 },
        new[] { 2, 1, 11, 13, 4, 4, 1, 3, -1, 2 },
        new[] { 1, 1, 6, 6, 1, 1, 1, 1, 0, 0 },
    ];

    private static readonly object[] Cases =
    [
        .. SmallCases,
        new[] { 2, 37, 33, 41, 4, 4, 1, 2, 1, 1 },
        new[] { 3, 29, 35, 17, 4, 4, 2, 1, 2, 1 },
    ];

    [TestCaseSource(nameof(Cases))]
    public void CpuMatchesNaiveLoop(int[] a)
    {
        var (d, kh, kw, up, down, p0, p1) = (new[] { a[0], a[1], a[2], a[3] }, a[4], a[5], a[6], a[7], a[8], a[9]);
        var x = TestData.Normal(d[0] * d[1] * d[2] * d[3], 1);
        var k = TestData.Normal(kh * kw, 2);
        var expected = Reference(x, k, d[0] * d[1], d[2], d[3], kh, kw, up, down, p0, p1);
        Close.Assert(expected, Run(TestBackends.Cpu, x, k, d, kh, kw, up, down, p0, p1), 1e-5, "cpu");
    }

    // On CUDA also the larger shapes: many planes, up 2 / down 2 with the (1, 3, 3, 1) filter of the skip blocks.
    private static IEnumerable<TestCaseData> GpuCases() =>
        GpuTargets.Cases(SmallCases.Cast<int[]>(), [[2, 37, 33, 41, 4, 4, 1, 2, 1, 1], [3, 29, 35, 17, 4, 4, 2, 1, 2, 1], [8, 128, 32, 32, 4, 4, 1, 2, 1, 1], [4, 3, 64, 64, 4, 4, 2, 1, 2, 1]]);

    [TestCaseSource(nameof(GpuCases))]
    public void IlgpuMatchesCpu(int[] a, string device)
    {
        var (d, kh, kw, up, down, p0, p1) = (new[] { a[0], a[1], a[2], a[3] }, a[4], a[5], a[6], a[7], a[8], a[9]);
        var x = TestData.Normal(d[0] * d[1] * d[2] * d[3], 3);
        var k = TestData.Normal(kh * kw, 4);
        Close.Assert(Run(TestBackends.Cpu, x, k, d, kh, kw, up, down, p0, p1), Run(TestBackends.Get(device), x, k, d, kh, kw, up, down, p0, p1), 1e-5, device);
    }

    private static IEnumerable<TestCaseData> GoldenCases(string first, string second) =>
        GpuTargets.AllDevices().SelectMany(d => new[] { first, second }.Select(f =>
        {
            var data = new TestCaseData(f, d.Arguments[0]).SetName($"{{m}}({f}, {d.Arguments[0]})");
            return (string?)d.Arguments[0] == "cuda" ? data.SetCategory(GpuTargets.Category) : data;
        }));

    private static IEnumerable<TestCaseData> FirCases() => GoldenCases("fir_down", "fir_up");

    private static IEnumerable<TestCaseData> FirConvCases() => GoldenCases("fir_down_conv", "fir_up_conv");

    /// <summary>PyTorch's fir_down / fir_up (upfirdn2d_native with the normalized (1, 3, 3, 1) filter) through the plan layer.</summary>
    [TestCaseSource(nameof(FirCases))]
    public void FirResamplerMatchesPyTorch(string fixture, string device)
    {
        var b = TestBackends.Get(device);
        using var f = new FixtureFile("ops", fixture + ".safetensors");
        using var weights = new ModelWeights(new DictionaryWeightSource(new Dictionary<string, (int[], float[])>()), b);
        var fir = new FirResampler(weights);
        Close.Assert(f.Floats("y"), RunLayer(b, f, x => fixture == "fir_down" ? fir.Down(x.Builder, "fir", x.Value) : fir.Up(x.Builder, "fir", x.Value)), 1e-5, fixture);
    }

    /// <summary>FirDownsample2D / FirUpsample2D with use_conv (stride-2 conv after the padded filter; transposed conv then filter).</summary>
    [TestCaseSource(nameof(FirConvCases))]
    public void FirConvResamplersMatchPyTorch(string fixture, string device)
    {
        var b = TestBackends.Get(device);
        using var f = new FixtureFile("ops", fixture + ".safetensors");
        var tensors = new Dictionary<string, (int[], float[])>
        {
            ["fir.Conv2d_0.weight"] = (f.ShapeOf("weight"), f.Floats("weight")),
            ["fir.Conv2d_0.bias"] = (f.ShapeOf("bias"), f.Floats("bias")),
        };
        using var weights = new ModelWeights(new DictionaryWeightSource(tensors), b);
        int cin = f.ShapeOf("weight")[1], cout = f.ShapeOf("weight")[0];
        Func<(PlanBuilder Builder, PlanValue Value), PlanValue> emit;
        if (fixture == "fir_down_conv")
        {
            var layer = new FirDownsampleConv(weights, "fir", cin, cout);
            emit = x => layer.Emit(x.Builder, "fir", x.Value);
        }
        else
        {
            var layer = new FirUpsampleConv(weights, "fir", cin, cout);
            emit = x => layer.Emit(x.Builder, "fir", x.Value);
        }
        weights.EnsureAllUsed();
        // Sums of 27 products (the conv) then 16 filter taps: float32 rounding stays near 1e-6 relative.
        Close.Assert(f.Floats("y"), RunLayer(b, f, emit), 1e-5, fixture);
    }

    private static float[] RunLayer(Backend b, FixtureFile f, Func<(PlanBuilder Builder, PlanValue Value), PlanValue> emit)
    {
        using var x = f.Upload(b, "x");
        var pb = new PlanBuilder(b);
        var y = emit((pb, pb.External("x", x)));
        using var output = b.Allocate(y.Shape.ToArray());
        var o = pb.External("y", output);
        pb.Step("copy", [y, o], t => b.Copy(t[0], t[1]));
        using var plan = pb.Compile();
        plan.Run();
        Assert.That(output.Shape, Is.EqualTo(new Shape(f.ShapeOf("y"))));
        return output.ToArray();
    }

    [Test]
    public void FirKernelsHaveDiffusersGains()
    {
        var down = FirResampler.Kernel(1f);
        var up = FirResampler.Kernel(4f);
        Assert.That(down.Sum(), Is.EqualTo(1f).Within(1e-6));
        Assert.That(up.Sum(), Is.EqualTo(4f).Within(1e-6));
        Assert.That(down[0], Is.EqualTo(1f / 64));
        Assert.That(down[5], Is.EqualTo(9f / 64));
    }

    [Test]
    public void FirUpsamplingKeepsAConstantPlaneConstantInside()
    {
        // diffusers' upsample_2d: the ×4 gain makes every output sample of a constant input equal away from the edges.
        var b = TestBackends.Cpu;
        var x = Enumerable.Repeat(2f, 6 * 6).ToArray();
        var y = Run(b, x, FirResampler.Kernel(4f), [1, 1, 6, 6], 4, 4, 2, 1, 2, 1);
        for (int i = 2; i < 10; i++)
            for (int j = 2; j < 10; j++) Assert.That(y[i * 12 + j], Is.EqualTo(2f).Within(1e-6), $"({i}, {j})");
    }

    [Test]
    public void BadShapesNameTheOp()
    {
        var b = TestBackends.Cpu;
        using var x = b.Allocate(1, 2, 6, 6);
        using var k = b.Allocate(4, 4);
        using var wrong = b.Allocate(1, 2, 4, 4);
        var e = Assert.Throws<ShapeMismatchException>(() => b.UpFirDn2d(x, k, wrong, 1, 2, 1, 1))!;
        Assert.That(e.Message, Does.Contain("upfirdn2d").And.Contain("[1,2,3,3]"));
        using var flat = b.Allocate(16);
        Assert.Throws<ShapeMismatchException>(() => b.UpFirDn2d(x, flat, wrong));
        using var ok = b.Allocate(1, 2, 3, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => b.UpFirDn2d(x, k, ok, 0, 2, 1, 1));
        using var big = b.Allocate(9, 9);
        using var y = b.Allocate(1, 2, 1, 1);
        Assert.Throws<ShapeMismatchException>(() => b.UpFirDn2d(x, big, y, 1, 1, 0, 0));
    }
}
