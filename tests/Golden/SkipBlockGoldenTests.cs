using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Golden;

/// <summary>
/// U-Nets with diffusers' FIR skip blocks (score-SDE / NCSN++) and class_embed_type "identity" against PyTorch
/// (tools/fixtures/make_unet_fixtures.py). 1e-4 relative to the largest output magnitude, as the other U-Net
/// goldens: dozens of chained float32 layers with GroupNorm amplifying earlier rounding.
/// </summary>
public class SkipBlockGoldenTests
{
    private const double Tol = 1e-4;

    public static readonly string[] Models = ["ncsnpp_skip", "skip_identity_class"];

    [TestCaseSource(nameof(Models))]
    public void MatchesPyTorchOnCpu(string name) => Check(TestBackends.Cpu, name);

    /// <summary>The emulated GPU kernels are slow, so only the smaller model runs there.</summary>
    [Test]
    public void MatchesPyTorchOnIlgpuCpu() => Check(TestBackends.IlgpuCpu, "skip_identity_class");

    [Category("Gpu")]
    [TestCaseSource(nameof(Models))]
    public void MatchesPyTorchOnCuda(string name) => Check(TestBackends.Cuda, name);

    private static void Check(Backend backend, string name)
    {
        using var io = new FixtureFile("unet", name, "io.safetensors");
        using var unet = UNet2DModel.Load(Fixtures.Path("unet", name), backend);
        var shape = io.ShapeOf("x");
        using var plan = unet.Compile(shape[0], shape[2], shape[3]);
        using var x = io.Upload(backend, "x");
        Assert.That(plan.NeedsClassEmbeddings, Is.EqualTo(io.Has("class_embeddings")));
        if (io.Has("class_embeddings")) plan.SetClassEmbeddings(io.Floats("class_embeddings"));
        var y = plan.Forward(x, io.Floats("t"));
        Close.Assert(io.Floats("y"), y.ToArray(), Tol, name);
    }

    [Test]
    public void FirFiltersAreConstantsNotParameters()
    {
        using var unet = UNet2DModel.Load(Fixtures.Path("unet", "ncsnpp_skip"), TestBackends.Cpu);
        using var source = ModelFiles.OpenWeights(Fixtures.Path("unet", "ncsnpp_skip"));
        long stored = source.Names.Sum(n => source.ShapeOf(n).Aggregate(1L, (a, d) => a * d));
        Assert.That(unet.ParameterCount, Is.EqualTo(stored).And.EqualTo(455337));
    }

    [Test]
    public void IdentityClassEmbeddingsAreRequiredAndChecked()
    {
        using var unet = UNet2DModel.Load(Fixtures.Path("unet", "skip_identity_class"), TestBackends.Cpu);
        using var plan = unet.Compile(2, 8, 8);
        Assert.That(plan.NeedsClassLabels, Is.False);
        plan.SetTimesteps([10f]);
        var run = Assert.Throws<InvalidOperationException>(plan.Run)!;
        Assert.That(run.Message, Does.Contain("identity"));
        Assert.Throws<ArgumentException>(() => plan.SetClassLabels([1]));
        var bad = Assert.Throws<ShapeMismatchException>(() => plan.SetClassEmbeddings(new float[5]))!;
        Assert.That(bad.Message, Does.Contain("[2, 64]"));
    }

    [Test]
    public void OneClassEmbeddingIsSharedByTheBatch()
    {
        var b = TestBackends.Cpu;
        using var io = new FixtureFile("unet", "skip_identity_class", "io.safetensors");
        using var unet = UNet2DModel.Load(Fixtures.Path("unet", "skip_identity_class"), b);
        using var plan = unet.Compile(2, 8, 8);
        using var x = io.Upload(b, "x");
        var e = io.Floats("class_embeddings");
        int dim = e.Length / 2;
        plan.SetClassEmbeddings(e.AsSpan(0, dim));
        var shared = plan.Forward(x, io.Floats("t")).ToArray();
        plan.SetClassEmbeddings([.. e.AsSpan(0, dim), .. e.AsSpan(0, dim)]);
        var both = plan.Forward(x, io.Floats("t")).ToArray();
        Close.Identical(both, shared, "shared class embedding");
        // The first sample saw its own embedding in both runs: it matches PyTorch; the second does not.
        var y = io.Floats("y");
        int half = y.Length / 2;
        Close.Assert(y.AsSpan(0, half), shared.AsSpan(0, half), Tol, "first sample");
        Assert.That(Math.Abs(y[half] - shared[half]) + Math.Abs(y[^1] - shared[^1]), Is.GreaterThan(1e-4), "second sample must change with its embedding");
    }
}
