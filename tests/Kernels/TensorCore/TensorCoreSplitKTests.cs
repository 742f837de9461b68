using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>
/// Split-K through the backend's tf32 tier: the policy splits batch-1 problems with long K (the emulator takes an
/// H200's 132-SM decisions), the convolutions and Linear layers then run as partial products plus the deterministic
/// reduction, with every epilogue (bias, per-sample bias, residual, scale, the upsampled input), against the CPU
/// backend on TF32-rounded inputs. The workspace is allocated once, not per launch (graph capture needs that).
/// </summary>
public class TensorCoreSplitKTests
{
    private IlgpuBackend? _tf32;

    [OneTimeSetUp]
    public void Open() => _tf32 = (IlgpuBackend)Devices.Create("ilgpu-cpu", Precision.Tf32); // its own: the shared emulator stays fp32

    [OneTimeTearDown]
    public void Close() => _tf32?.Dispose();

    public sealed record ConvCase(int Batch, int Cin, int H, int W, int Cout, int Kernel, int Stride, int Padding, bool Residual, float Scale);

    // Cin·k² ≥ 256 so the policy splits (2–3 slices, the last one short); Cout across the 64 tile; batch 2.
    private static IEnumerable<ConvCase> Convs() =>
    [
        new(1, 32, 4, 4, 8, 3, 1, 1, false, 1f),     // K 288: slices 160 + 128
        new(2, 40, 5, 3, 70, 3, 2, 1, true, 0.5f),   // K 360: 2 channel tiles, stride 2
        new(1, 300, 3, 3, 5, 1, 1, 0, true, 1f),     // 1×1, K 300: slices 160 + 140
    ];

    [TestCaseSource(nameof(Convs))]
    public void SplitConvMatchesCpuAndIsReproducible(ConvCase c)
    {
        int ho = (c.H + 2 * c.Padding - c.Kernel) / c.Stride + 1, wo = (c.W + 2 * c.Padding - c.Kernel) / c.Stride + 1;
        int k = c.Cin * c.Kernel * c.Kernel;
        Assert.That(TensorCoreTilePolicy.Choose(c.Cout, c.Batch * ho * wo, k, 1, _tf32!.Multiprocessors).IsSplit, Is.True, "the policy splits this case");
        var xs = TestData.Normal(c.Batch * c.Cin * c.H * c.W, 151);
        var ws = TestData.Normal(c.Cout * k, 152, 1f / MathF.Sqrt(k));
        var bs = TestData.Normal(c.Cout, 153);
        var rs = TestData.Normal(c.Batch * c.Cout * ho * wo, 154);
        float[] Run(Backend be, bool round)
        {
            using var tx = be.Upload(round ? Rounded(xs) : xs, new Shape(c.Batch, c.Cin, c.H, c.W));
            using var tw = be.Upload(round ? Rounded(ws) : ws, new Shape(c.Cout, c.Cin, c.Kernel, c.Kernel));
            using var tb = be.Upload(bs, new Shape(c.Cout));
            using var ty = be.Upload(rs, new Shape(c.Batch, c.Cout, ho, wo)); // the residual is y itself
            be.Conv2d(tx, tw, tb, ty, c.Stride, c.Padding, residual: c.Residual ? ty : null, outputScale: c.Scale);
            return ty.ToArray();
        }
        var first = Run(_tf32, false);
        AssertSplitResult(Run(TestBackends.Cpu, true), Run(TestBackends.Cpu, false), first, $"split conv {c}");
        Support.Close.Identical(first, Run(_tf32, false), $"split conv {c}, second run");
    }

    [Test]
    public void SplitConvWithSampleBiasAndUpsampledInput()
    {
        const int n = 2, cin = 30, h = 3, w = 2, cout = 65, stride = 9, offset = 4; // K 270, 65 channels
        var xs = TestData.Normal(n * cin * h * w, 161);
        var ws = TestData.Normal(cout * cin * 9, 162, 0.06f);
        var bs = TestData.Normal(cout, 163);
        var sbs = TestData.Normal(n * (cout + stride), 164);
        float[] SampleBias(Backend be, bool round)
        {
            using var tx = be.Upload(round ? Rounded(xs) : xs, new Shape(n, cin, h, w));
            using var tw = be.Upload(round ? Rounded(ws) : ws, new Shape(cout, cin, 3, 3));
            using var tb = be.Upload(bs, new Shape(cout));
            using var tsb = be.Upload(sbs, new Shape(n, cout + stride));
            using var ty = be.Allocate(new Shape(n, cout, h, w));
            be.Conv2dWithSampleBias(tx, tw, tb, tsb, offset, ty, 1, 1);
            return ty.ToArray();
        }
        float[] Upsampled(Backend be, bool round)
        {
            using var tx = be.Upload(round ? Rounded(xs) : xs, new Shape(n, cin, h, w));
            using var tw = be.Upload(round ? Rounded(ws) : ws, new Shape(cout, cin, 3, 3));
            using var tb = be.Upload(bs, new Shape(cout));
            using var ty = be.Allocate(new Shape(n, cout, 2 * h, 2 * w));
            be.Conv2dOfUpsampled(tx, tw, tb, ty, 1, 1);
            return ty.ToArray();
        }
        Assert.That(TensorCoreTilePolicy.Choose(cout, n * h * w, cin * 9, 1, _tf32!.Multiprocessors).IsSplit, Is.True);
        Assert.That(TensorCoreTilePolicy.Choose(cout, n * 4 * h * w, cin * 9, 1, _tf32.Multiprocessors).IsSplit, Is.True);
        AssertSplitResult(SampleBias(TestBackends.Cpu, true), SampleBias(TestBackends.Cpu, false), SampleBias(_tf32, false), "split conv + sample bias");
        AssertSplitResult(Upsampled(TestBackends.Cpu, true), Upsampled(TestBackends.Cpu, false), Upsampled(_tf32, false), "split conv of a nearest ×2 upsampled input");
    }

    [Test]
    public void SplitLinearMatchesCpuAndFixedTilesAgree()
    {
        const int m = 5, n = 9, k = 512; // one tile, K 512: 4 slices of 128
        var xs = TestData.Normal(m * k, 171);
        var ws = TestData.Normal(n * k, 172, 1f / MathF.Sqrt(k));
        var bs = TestData.Normal(n, 173);
        Assert.That(TensorCoreTilePolicy.Choose(m, n, k, 1, _tf32!.Multiprocessors), Is.EqualTo(new TensorCoreLaunch(TensorCoreTileShape.Tile64, 4)));
        float[] Run(Backend be, bool round)
        {
            using var tx = be.Upload(round ? Rounded(xs) : xs, new Shape(m, k));
            using var tw = be.Upload(round ? Rounded(ws) : ws, new Shape(n, k));
            using var tb = be.Upload(bs, new Shape(n));
            using var ty = be.Allocate(m, n);
            be.Linear(tx, tw, tb, ty);
            return ty.ToArray();
        }
        var split = Run(_tf32, false);
        AssertSplitResult(Run(TestBackends.Cpu, true), Run(TestBackends.Cpu, false), split, "split linear");
        _tf32.TensorCoreTiling = TensorCoreTiling.Fixed64;
        try
        {
            Support.Close.Assert(split, Run(_tf32, false), 1e-5, "split linear vs the first version's fixed 64×64 tiles");
        }
        finally
        {
            _tf32.TensorCoreTiling = TensorCoreTiling.BySize;
        }
    }

    [Test]
    public void WorkspaceIsAllocatedOnceForEverySplitThePolicyPicks()
    {
        using var be = (IlgpuBackend)Devices.Create("ilgpu-cpu", Precision.Tf32);
        long before = be.ScratchGeneration;
        void Linear(int m, int n, int k)
        {
            using var tx = be.Upload(TestData.Normal(m * k, 181), new Shape(m, k));
            using var tw = be.Upload(TestData.Normal(n * k, 182), new Shape(n, k));
            using var ty = be.Allocate(m, n);
            be.Linear(tx, tw, null, ty);
            be.Synchronize();
        }
        Linear(3, 4, 256);   // 1 tile, 2 slices: the first split allocates the workspace
        Assert.That(be.ScratchGeneration, Is.EqualTo(before + 1));
        Linear(64, 130, 1024); // 3 tiles, 8 slices: the largest workspace a 3-tile split can take fits the first allocation
        Linear(7, 9, 96);    // no split: no workspace
        Assert.That(be.ScratchGeneration, Is.EqualTo(before + 1), "no later split replaced the workspace (a captured graph stays valid)");
    }

    /// <summary>
    /// Same TF32 inputs: only the summation order differs (≤ 360 products here, fp32's √K·2⁻²⁴ ≪ 1e-5 of the largest
    /// output); and the exact fp32 result differs, so the tensor-core kernels really ran.
    /// </summary>
    private static void AssertSplitResult(float[] cpuOnRounded, float[] cpuExact, float[] tf32, string what)
    {
        Support.Close.Assert(cpuOnRounded, tf32, 1e-5, $"{what} vs CPU on TF32-rounded inputs");
        Assert.That(cpuExact.Zip(tf32).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-5), $"{what} ran the exact kernel");
    }

    private static float[] Rounded(float[] v) => [.. v.Select(TensorCoreGemmTests.RoundTf32)];
}
