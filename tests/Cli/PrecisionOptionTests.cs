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
        var (code, _, err) = Forward("y.npy", "--device", "cpu", "--precision", "fp16");
        Assert.That(code, Is.EqualTo(CliErrors.UserError), err);
        Assert.That(err, Does.Contain("--precision").And.Contain("'fp16'"));
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
}
