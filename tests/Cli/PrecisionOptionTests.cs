using DiffusionKernels.Cli;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary>--precision: fp32 by default, tf32 opt-in on ILGPU devices, an error on the cpu device and for unknown names.</summary>
public class PrecisionOptionTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        _dir = Directory.CreateTempSubdirectory("dk-precision-").FullName;
        TinyModel.Write(P("model"));
        Npy.Write(P("x.npy"), TestData.Normal(64, 1), [1, 1, 8, 8]);
        Npy.Write(P("t.npy"), new[] { 500f }, [1]);
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Forward(string output, params string[] extra) =>
        CliRunner.Run(["forward", "--model", P("model"), "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", P(output), .. extra]);

    [Test]
    public void Tf32OnTheCpuDeviceIsAUsageErrorNotAnExactRun()
    {
        var (code, _, err) = Forward("y.npy", "--device", "cpu", "--precision", "tf32");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("tf32").And.Contain("fp32 only"));
        Assert.That(File.Exists(P("y.npy")), Is.False);
    }

    [Test]
    public void AnUnknownPrecisionIsNamed()
    {
        var (code, _, err) = Forward("y.npy", "--device", "cpu", "--precision", "fp8");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("--precision").And.Contain("'fp8'"));
    }

    [Test]
    public void Tf32RunsTheForwardPassOnTheEmulatorCloseToFp32()
    {
        var (code, _, err) = Forward("fp32.npy", "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        (code, _, err) = Forward("tf32.npy", "--device", "ilgpu-cpu", "--precision", "tf32");
        Assert.That(code, Is.Zero, err);
        var exact = Npy.Read(P("fp32.npy")).Floats!;
        var tf32 = Npy.Read(P("tf32.npy")).Floats!;
        // A whole (tiny) U-Net: each GEMM and convolution adds up to ~2^-10 relative error from TF32 inputs, and the
        // network has a few dozen of them in sequence, normalised by GroupNorm between; 2e-2 of the largest output
        // allows that drift and still catches a wrong kernel (which is off by O(1)). Exactness is checked per kernel.
        Close.Assert(exact, tf32, 2e-2, "tf32 forward vs fp32");
        Assert.That(exact.Zip(tf32).Any(p => p.First != p.Second), Is.True, "tf32 changed nothing: the tier did not reach the kernels");
    }

    [TestCase("fp16")]
    [TestCase("bf16")]
    public void HalfTiersOnTheCpuDeviceAreUsageErrors(string precision)
    {
        var (code, _, err) = Forward("y.npy", "--device", "cpu", "--precision", precision);
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain(precision).And.Contain("fp32 only"));
        Assert.That(File.Exists(P("y.npy")), Is.False);
    }

    // A whole (tiny) U-Net in each 16-bit tier against fp32. Each GEMM and convolution moves by up to (2u + u²) of its
    // Σ|products| (u = 2^-11 for fp16, as TF32's rounding; 2^-8 for bf16), and the network has a few dozen of them in
    // sequence with GroupNorm between (which rescales relative errors, not amplifies them beyond the layer count). A
    // wrong kernel is off by O(1). fp16 gets TF32's 2e-2 of the largest output; bf16's inputs carry 8× the error, so
    // 1e-1 (the measured drift is printed and stays well inside; exactness is checked per kernel). The drift must be
    // nonzero, so the 16-bit kernels really ran.
    [TestCase("fp16", 2e-2)]
    [TestCase("bf16", 1e-1)]
    public void HalfTiersRunTheForwardPassOnTheEmulatorCloseToFp32(string precision, double tolerance)
    {
        var (code, _, err) = Forward("fp32.npy", "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        (code, _, err) = Forward("half.npy", "--device", "ilgpu-cpu", "--precision", precision);
        Assert.That(code, Is.Zero, err);
        var exact = Npy.Read(P("fp32.npy")).Floats!;
        var half = Npy.Read(P("half.npy")).Floats!;
        double drift = exact.Zip(half).Max(p => Math.Abs(p.First - p.Second)) / exact.Max(v => Math.Abs(v));
        TestContext.Out.WriteLine($"{precision} forward: max |drift| = {drift:E2} of the largest output");
        Close.Assert(exact, half, tolerance, $"{precision} forward vs fp32");
        Assert.That(drift, Is.GreaterThan(0), $"{precision} changed nothing: the tier did not reach the kernels");
    }

    [Test]
    public void Fp16OverflowIsTheNonFiniteErrorNotSilentGarbage()
    {
        // An input past fp16's range (65504) becomes Inf in conv_in: the forward's output turns non-finite and dk
        // forward refuses to write it, exactly as for any NaN/Inf output; fp32 and bf16 (fp32's range) run through.
        Npy.Write(P("big.npy"), TestData.Normal(64, 1).Select(v => v * 1e6f).ToArray(), [1, 1, 8, 8]);
        string[] Args(string output, params string[] extra) =>
            ["forward", "--model", P("model"), "--input", P("big.npy"), "--timesteps", P("t.npy"), "--output", P(output), .. extra];
        var (code, _, err) = CliRunner.Run(Args("fp32.npy", "--device", "cpu"));
        Assert.That(code, Is.Zero, err);
        (code, _, err) = CliRunner.Run(Args("bf16.npy", "--device", "ilgpu-cpu", "--precision", "bf16"));
        Assert.That(code, Is.Zero, err);
        (code, _, err) = CliRunner.Run(Args("fp16.npy", "--device", "ilgpu-cpu", "--precision", "fp16"));
        Assert.That(code, Is.Not.Zero, "fp16 overflow passed silently");
        Assert.That(err, Does.Contain("NaN/Inf"));
        Assert.That(File.Exists(P("fp16.npy")), Is.False, "nothing is written");
    }
}
