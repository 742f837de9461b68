using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Golden;

/// <summary>
/// Single ops against outputs computed by PyTorch (tools/fixtures/make_op_fixtures.py), on the CPU backend and on
/// the GPU kernels (ILGPU CPU accelerator). Tolerance 1e-5 relative to the largest reference magnitude: every op
/// here sums at most a few hundred float32 terms, whose rounding stays near 1e-6 relative.
/// </summary>
public class OpGoldenTests
{
    private const double Tol = 1e-5;

    private static IEnumerable<TestCaseData> On(params string[] fixtures)
    {
        foreach (var f in fixtures)
        {
            yield return new TestCaseData("cpu", f).SetArgDisplayNames("cpu", f);
            yield return new TestCaseData("ilgpu-cpu", f).SetArgDisplayNames("ilgpu-cpu", f);
            yield return new TestCaseData("cuda", f).SetArgDisplayNames("cuda", f).SetCategory(GpuTargets.Category);
        }
    }

    private static Backend Get(string device) => TestBackends.Get(device);

    private static IEnumerable<TestCaseData> ConvCases() => On("conv_k1_s1", "conv_k3_s1_p1", "conv_k3_s2_p1", "conv_k3_s2_pad0011", "conv_k3_s1_p0");

    [TestCaseSource(nameof(ConvCases))]
    public void Conv2d(string device, string fixture)
    {
        var b = Get(device);
        using var f = new FixtureFile("ops", fixture + ".safetensors");
        using var x = f.Upload(b, "x");
        using var w = f.Upload(b, "weight");
        using var bias = f.Upload(b, "bias");
        using var y = b.Allocate(new Shape(f.ShapeOf("y")));
        b.Conv2d(x, w, bias, y, f.MetaInt("stride"), f.MetaInt("padding"), extraPadBottomRight: f.MetaInt("extra_pad"));
        Close.Assert(f.Floats("y"), y.ToArray(), Tol, fixture);
    }

    private static IEnumerable<TestCaseData> NormCases() => On("group_norm", "group_norm_silu");

    [TestCaseSource(nameof(NormCases))]
    public void GroupNorm(string device, string fixture)
    {
        var b = Get(device);
        using var f = new FixtureFile("ops", fixture + ".safetensors");
        using var x = f.Upload(b, "x");
        using var g = f.Upload(b, "weight");
        using var beta = f.Upload(b, "bias");
        using var y = b.Allocate(x.Shape);
        b.GroupNorm(x, g, beta, y, f.MetaInt("groups"), f.MetaFloat("eps"), f.MetaInt("silu") == 1 ? Activation.SiLU : Activation.Identity);
        Close.Assert(f.Floats("y"), y.ToArray(), Tol, fixture);
    }

    private static IEnumerable<TestCaseData> ActivationCases() => On("silu", "gelu_exact", "gelu_tanh", "mish");

    [TestCaseSource(nameof(ActivationCases))]
    public void Activations(string device, string fixture)
    {
        var b = Get(device);
        var act = fixture switch { "silu" => Activation.SiLU, "gelu_exact" => Activation.GeluExact, "gelu_tanh" => Activation.GeluTanh, _ => Activation.Mish };
        using var f = new FixtureFile("ops", fixture + ".safetensors");
        using var x = f.Upload(b, "x");
        using var y = b.Allocate(x.Shape);
        b.Activate(x, y, act);
        Close.Assert(f.Floats("y"), y.ToArray(), Tol, fixture);
    }

    private static IEnumerable<TestCaseData> AttentionCases() => On("attention_1head", "attention_3heads");

    [TestCaseSource(nameof(AttentionCases))]
    public void Attention(string device, string fixture)
    {
        var b = Get(device);
        using var f = new FixtureFile("ops", fixture + ".safetensors");
        using var q = f.Upload(b, "q");
        using var k = f.Upload(b, "k");
        using var v = f.Upload(b, "v");
        using var y = b.Allocate(q.Shape);
        b.Attention(q, k, v, y, f.MetaInt("heads"), f.MetaFloat("scale"));
        Close.Assert(f.Floats("y"), y.ToArray(), Tol, fixture);
    }

    private static IEnumerable<TestCaseData> ResamplingCases() => On("upsample_nearest", "avg_pool");

    [TestCaseSource(nameof(ResamplingCases))]
    public void Resampling(string device, string fixture)
    {
        var b = Get(device);
        using var f = new FixtureFile("ops", fixture + ".safetensors");
        using var x = f.Upload(b, "x");
        using var y = b.Allocate(new Shape(f.ShapeOf("y")));
        if (fixture == "upsample_nearest") b.UpsampleNearest2x(x, y);
        else b.AvgPool2x2(x, y);
        Close.Assert(f.Floats("y"), y.ToArray(), Tol, fixture);
    }

    private static IEnumerable<TestCaseData> EmbeddingCases() => On("timestep_embedding_32_0_1", "timestep_embedding_33_1_0", "timestep_embedding_128_1_0");

    /// <summary>
    /// At t = 999 the float32 argument is ~1e3, where one ulp is 6e-5; sin/cos implementations that differ by an ulp
    /// in the argument differ by that much in the result, so this compares at 1e-4 absolute (values are in [−1, 1]).
    /// </summary>
    [TestCaseSource(nameof(EmbeddingCases))]
    public void TimestepEmbedding(string device, string fixture)
    {
        var b = Get(device);
        using var f = new FixtureFile("ops", fixture + ".safetensors");
        using var t = f.Upload(b, "t");
        using var y = b.Allocate(new Shape(f.ShapeOf("y")));
        b.TimestepEmbedding(t, y, f.MetaInt("flip") == 1, f.MetaInt("shift"));
        Close.Assert(f.Floats("y"), y.ToArray(), 1e-4, fixture);
    }
}
