using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// The later tensor-core convolution versions, launched directly on tiny odd shapes with every input and epilogue
/// path the U-Net uses (padding, stride 2, batch 2, Cout past the tile, residual with scale, per-sample bias, a nearest
/// ×2 upsampled input, the two-source concat input), against a double-precision twin of the CPU convolution written
/// here (so one reference covers all the fused paths at once): the 128×128 TF32 tiles, and 3xTF32 (fp32-level error).
/// </summary>
public class TensorCoreConv2dVersionsTests
{
    /// <summary>
    /// cat(a [N, Ca, H, W], skip [N, Cb, H, W]) (Cb = 0: one source), read through a nearest ×2 upsample when
    /// <paramref name="Upsample"/>, convolved by [Cout, Ca + Cb, K, K]; bias always; residual, sample bias and scale as flagged.
    /// </summary>
    public sealed record ConvCase(int N, int Ca, int Cb, int H, int W, int Cout, int K, int Stride, int Padding, bool Upsample, bool Residual, bool SampleBias, float Scale)
    {
        public int Cin => Ca + Cb;
        public int SeenH => Upsample ? 2 * H : H;
        public int SeenW => Upsample ? 2 * W : W;
        public int Ho => (SeenH + 2 * Padding - K) / Stride + 1;
        public int Wo => (SeenW + 2 * Padding - K) / Stride + 1;
        public int Outputs => N * Cout * Ho * Wo;

        public override string ToString() =>
            $"{N}x({Ca}+{Cb})x{H}x{W}{(Upsample ? " up2" : "")} ->{Cout} k{K} s{Stride} p{Padding}{(Residual ? " +res" : "")}{(SampleBias ? " +sb" : "")} x{Scale}";
    }

    // Odd sizes around the 128 tile on both sides (143 pixels: two pixel tiles; 130 channels: two channel tiles) and
    // the 32-deep stage (K 27, 36, 45, 5); batch 2 with both images in one pixel tile.
    private static IEnumerable<ConvCase> Cases() =>
    [
        new(1, 3, 0, 13, 11, 5, 3, 1, 1, false, false, false, 1f),
        new(2, 4, 0, 6, 5, 130, 3, 2, 1, false, true, false, 0.5f),
        new(2, 3, 2, 3, 5, 7, 3, 1, 1, true, false, true, 1f),
        new(1, 2, 3, 9, 9, 9, 1, 1, 0, false, true, true, 2f),
    ];

    private static IEnumerable<TestCaseData> Targets() => GpuTargets.Cases(Cases());

    [TestCaseSource(nameof(Targets))]
    public void Tile128IsTheFirstVersionsBitsAndMatchesTheTwin(ConvCase c, string device)
    {
        var inputs = Inputs(c);
        var tile128 = Run(device, c, inputs, (k, s, x, skip, w, b, sb, r, y, g, ws) =>
        {
            Assert.That(k.Has128, Is.True, "the emulator and CUDA devices fit the 256-thread tiles");
            k.Run(s, x, skip, w, b, sb, r, y, g, new TensorCoreLaunch(TensorCoreTileShape.Tile128, 1), ws);
        });
        var tile64 = Run(device, c, inputs, (k, s, x, skip, w, b, sb, r, y, g, ws) => k.Run(s, x, skip, w, b, sb, r, y, g, TensorCoreLaunch.Fixed64, ws));
        // Every output takes the same mma sequence (k-steps of 8 over 32-deep stages from k = 0) on both tiles: same bits.
        Close.Identical(tile64, tile128, $"128×128 tiles {c} vs 64×64");
        // TF32-rounded inputs in double: only the fp32 summation (≤ 45 products) differs, 1e-5 of the largest output.
        Close.Assert(Reference(c, inputs, round: true), tile128, 1e-5, $"128×128 tiles {c} vs the twin on TF32-rounded inputs");
    }

    /// <summary>
    /// 3xTF32 against the exact convolution in double on fp32 inputs, unsplit and split in two K slices. Each split
    /// product errs by ≤ 3·2⁻²² of |w·x|, and the fp32 sums of ≤ 45 products (plus the epilogue's 3 additions) by
    /// ~√K·2⁻²⁴ of the outputs' size: ≤ 2e-6 of the largest output is fp32's level (the GEMM test's bound). Plain TF32
    /// on the same data errs by ~2⁻¹¹·|w·x|·√K, which the test also measures, so it tells the two products apart.
    /// </summary>
    [TestCaseSource(nameof(Targets))]
    public void ThreeTf32IsAtFp32Level(ConvCase c, string device)
    {
        var inputs = Inputs(c);
        var exact = Reference(c, inputs, round: false);
        int k = c.Cin * c.K * c.K;
        var split = new TensorCoreLaunch(TensorCoreTileShape.Tile64, 2);
        var three = Run(device, c, inputs, (kn, s, x, skip, w, b, sb, r, y, g, ws) => kn.RunThreeTf32(s, x, skip, w, b, sb, r, y, g, TensorCoreLaunch.Fixed64, ws));
        var threeSplit = Run(device, c, inputs, (kn, s, x, skip, w, b, sb, r, y, g, ws) => kn.RunThreeTf32(s, x, skip, w, b, sb, r, y, g, split, ws));
        var tf32 = Run(device, c, inputs, (kn, s, x, skip, w, b, sb, r, y, g, ws) => kn.Run(s, x, skip, w, b, sb, r, y, g, TensorCoreLaunch.Fixed64, ws));
        double scale = exact.Max(v => Math.Abs((double)v));
        double Error(float[] actual) => exact.Zip(actual).Max(p => Math.Abs((double)p.First - p.Second)) / scale;
        double threeError = Error(three), splitError = Error(threeSplit), tf32Error = Error(tf32);
        TestContext.Out.WriteLine($"{c}: 3xTF32 error {threeError:E2} (split {splitError:E2}), TF32 error {tf32Error:E2} of max |ref| {scale:G4}");
        Assert.That(threeError, Is.LessThanOrEqualTo(2e-6), "3xTF32 error at fp32 level");
        Assert.That(splitError, Is.LessThanOrEqualTo(2e-6), "split 3xTF32 error at fp32 level");
        Assert.That(tf32Error, Is.GreaterThan(4 * Math.Max(threeError, 2.5e-7)), "plain TF32 errs visibly more on the same data");
        if (k > TensorCoreTile.TileK) Assert.That(TensorCoreConv2dKernels.WorkspaceFloats(Geometry(c), split), Is.GreaterThan(0), "the case really splits K");
    }

    /// <summary>The fp32 tier's convolutions take the 3xTF32 kernel under the internal switch, and stay within fp32's level of the CPU twin.</summary>
    [Test]
    public void Fp32TierRunsConvOnThreeTf32UnderTheSwitch()
    {
        using var fp32 = (IlgpuBackend)Devices.Create("ilgpu-cpu", Precision.Fp32);
        const int n = 2, cin = 5, h = 7, w = 6, cout = 9;
        var xs = TestData.Normal(n * cin * h * w, 191);
        var ws = TestData.Normal(cout * cin * 9, 192, 1f / MathF.Sqrt(cin * 9));
        var bs = TestData.Normal(cout, 193);
        float[] Conv(Backend be)
        {
            using var tx = be.Upload(xs, new Shape(n, cin, h, w));
            using var tw = be.Upload(ws, new Shape(cout, cin, 3, 3));
            using var tb = be.Upload(bs, new Shape(cout));
            using var ty = be.Allocate(new Shape(n, cout, h, w));
            be.Conv2d(tx, tw, tb, ty, 1, 1);
            return ty.ToArray();
        }
        var cudaCores = Conv(fp32);
        fp32.Fp32OnThreeTf32 = true;
        var three = Conv(fp32);
        // ≤ 45 products per output: 3xTF32 and the CPU's fp32 sums both err at ~√K·2⁻²⁴, 2e-6 of the largest output bounds both.
        Close.Assert(Conv(TestBackends.Cpu), three, 2e-6, "fp32 tier conv on 3xTF32 vs the CPU conv");
        Assert.That(three.SequenceEqual(cudaCores), Is.False, "the switch changed the kernel (other summation order, other bits)");
    }

    private sealed record ConvInputs(float[] A, float[] Skip, float[] W, float[] Bias, float[] SampleBias, float[] Residual);

    /// <summary>The sample bias rows are wider than Cout (stride Cout + 3) and the view starts at column 2, as a resnet's slice does.</summary>
    private const int SampleBiasOffset = 2, SampleBiasExtra = 3;

    private static ConvInputs Inputs(ConvCase c)
    {
        int seed = c.ToString().Aggregate(200, (h, ch) => (h * 31 + ch) & 0xFFFF); // stable across runs
        int k = c.Cin * c.K * c.K;
        return new(TestData.Normal((long)c.N * c.Ca * c.H * c.W, seed), TestData.Normal((long)Math.Max(1, c.N * c.Cb * c.H * c.W), seed + 1),
            TestData.Normal((long)c.Cout * k, seed + 2, 1f / MathF.Sqrt(k)), TestData.Normal(c.Cout, seed + 3),
            TestData.Normal((long)c.N * (c.Cout + SampleBiasExtra), seed + 4), TestData.Normal(c.Outputs, seed + 5));
    }

    private static Conv2dGeometry Geometry(ConvCase c) => new()
    {
        Batch = c.N,
        InChannels = c.Cin,
        SkipChannels = c.Cb,
        Height = c.SeenH,
        Width = c.SeenW,
        InputShift = c.Upsample ? 1 : 0,
        OutChannels = c.Cout,
        KernelHeight = c.K,
        KernelWidth = c.K,
        OutHeight = c.Ho,
        OutWidth = c.Wo,
        Stride = c.Stride,
        Padding = c.Padding,
        HasBias = 1,
        HasResidual = c.Residual ? 1 : 0,
        HasSampleBias = c.SampleBias ? 1 : 0,
        SampleBiasStride = c.Cout + SampleBiasExtra,
        Scale = c.Scale,
    };

    private delegate void Launch(TensorCoreConv2dKernels kernels, AcceleratorStream stream, ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w,
        ArrayView<float> bias, ArrayView<float> sampleBias, ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g, ArrayView<float> workspace);

    private static float[] Run(string device, ConvCase c, ConvInputs inputs, Launch launch)
    {
        var backend = TestBackends.Ilgpu(device);
        var acc = backend.Accelerator;
        var g = Geometry(c);
        using var dx = acc.Allocate1D(inputs.A);
        using var dskip = acc.Allocate1D(inputs.Skip);
        using var dw = acc.Allocate1D(inputs.W);
        using var db = acc.Allocate1D(inputs.Bias);
        using var dsb = acc.Allocate1D(inputs.SampleBias);
        // The residual is y itself (read, then overwritten); without one y starts as NaN, so every output must be written.
        using var dy = acc.Allocate1D(c.Residual ? inputs.Residual : Enumerable.Repeat(float.NaN, c.Outputs).ToArray());
        long workspaceFloats = TensorCoreConv2dKernels.WorkspaceFloats(g, new TensorCoreLaunch(TensorCoreTileShape.Tile64, 2));
        using var workspace = acc.Allocate1D(Enumerable.Repeat(float.NaN, (int)Math.Max(1, workspaceFloats)).ToArray());
        var kernels = new TensorCoreConv2dKernels(acc);
        launch(kernels, backend.Stream, dx.View, c.Cb > 0 ? dskip.View : dx.View, dw.View, db.View, dsb.View.SubView(SampleBiasOffset, dsb.Length - SampleBiasOffset), dy.View, dy.View, g, workspace.View);
        backend.Stream.Synchronize();
        return dy.GetAsArray1D();
    }

    /// <summary>The convolution in double (inputs TF32-rounded with <paramref name="round"/>), epilogue in the kernels' order, rounded to float at the end.</summary>
    private static float[] Reference(ConvCase c, ConvInputs inputs, bool round)
    {
        float In(float v) => round ? TensorCoreGemmTests.RoundTf32(v) : v;
        int shift = c.Upsample ? 1 : 0;
        var y = new float[c.Outputs];
        for (int n = 0; n < c.N; n++)
            for (int co = 0; co < c.Cout; co++)
                for (int oy = 0; oy < c.Ho; oy++)
                    for (int ox = 0; ox < c.Wo; ox++)
                    {
                        double sum = 0;
                        for (int ci = 0; ci < c.Cin; ci++)
                            for (int ky = 0; ky < c.K; ky++)
                                for (int kx = 0; kx < c.K; kx++)
                                {
                                    int iy = oy * c.Stride - c.Padding + ky, ix = ox * c.Stride - c.Padding + kx;
                                    if (iy < 0 || iy >= c.SeenH || ix < 0 || ix >= c.SeenW) continue;
                                    int pixel = (iy >> shift) * c.W + (ix >> shift);
                                    float x = ci < c.Ca ? inputs.A[(n * c.Ca + ci) * c.H * c.W + pixel] : inputs.Skip[(n * c.Cb + ci - c.Ca) * c.H * c.W + pixel];
                                    sum += (double)In(inputs.W[((co * c.Cin + ci) * c.K + ky) * c.K + kx]) * In(x);
                                }
                        int o = ((n * c.Cout + co) * c.Ho + oy) * c.Wo + ox;
                        double v = sum + inputs.Bias[co];
                        if (c.SampleBias) v += inputs.SampleBias[n * (c.Cout + SampleBiasExtra) + SampleBiasOffset + co];
                        if (c.Residual) v += inputs.Residual[o];
                        y[o] = (float)(v * c.Scale);
                    }
        return y;
    }
}
