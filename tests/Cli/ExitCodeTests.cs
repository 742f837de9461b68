using DiffusionKernels.Cli;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary>
/// Exit codes: 0 success, 1 internal error, 2 bad usage or input, 3 non-finite result, 130 interrupted; and NaN/Inf in
/// inputs or results is an error unless --allow-nonfinite.
/// </summary>
public class ExitCodeTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("dk-exit-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void ExceptionsMapToTheDocumentedCodes()
    {
        var cases = new (Exception Error, int Code)[]
        {
            (new ModelFormatException("config.json: bad"), CliErrors.UserError),
            (new ArgumentException("--steps bad"), CliErrors.UserError),
            (new FileNotFoundException("gone"), CliErrors.UserError),
            (new InsufficientMemoryException("too big"), CliErrors.UserError),
            (new DeviceNotAvailableException("no cuda"), CliErrors.UserError),
            (new AggregateException(new ShapeMismatchException("shape")), CliErrors.UserError),
            (new NumericalInstabilityException("NaN at step 3"), CliErrors.NonFiniteResult),
            (new OperationCanceledException(), CliErrors.Interrupted),
#pragma warning disable CA2201 // the exception a bug in dk would throw, made here on purpose
            (new NullReferenceException(), CliErrors.InternalError),
#pragma warning restore CA2201
            (new ArgumentNullException("x"), CliErrors.InternalError),
            (new InvalidOperationException("Sequence contains no elements"), CliErrors.InternalError),
            (new ObjectDisposedException("Tensor"), CliErrors.InternalError),
        };
        var oldErr = Console.Error;
        try
        {
            foreach (var (error, code) in cases)
            {
                var err = new StringWriter();
                Console.SetError(err);
                Assert.That(CliErrors.Run(() => throw error), Is.EqualTo(code), error.GetType().Name);
                Assert.That(err.ToString(), Does.StartWith("dk: "));
                if (code == CliErrors.InternalError) Assert.That(err.ToString(), Does.Contain("internal error").And.Contain("report"));
            }
        }
        finally
        {
            Console.SetError(oldErr);
        }
    }

    [TestCase("sample --no-such-option 1")]
    [TestCase("forward --model x")]
    [TestCase("no-such-command")]
    [TestCase("")]
    public void CommandLineErrorsAreUsageErrors(string args)
    {
        var (code, _, err) = CliRunner.Run(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.StartWith("dk: error:").And.Contain("--help"));
    }

    private void WriteForwardInputs(float[] x, float t = 500)
    {
        TinyModel.Write(P("model"));
        Npy.Write(P("x.npy"), x, [1, 1, 8, 8]);
        Npy.Write(P("t.npy"), new[] { t }, [1]);
    }

    private (int Code, string Out, string Err) Forward(params string[] extra) =>
        CliRunner.Run(["forward", "--model", P("model"), "--input", P("x.npy"), "--timesteps", P("t.npy"), "--output", P("y.npy"), "--device", "cpu", .. extra]);

    [Test]
    public void ForwardRefusesNonFiniteInputsUnlessAllowed()
    {
        var x = TestData.Normal(64, 1);
        x[5] = float.NaN;
        WriteForwardInputs(x);
        var (code, _, err) = Forward();
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("x.npy").And.Contain("non-finite").And.Contain("--allow-nonfinite"));
        Assert.That(File.Exists(P("y.npy")), Is.False);
        (code, _, err) = Forward("--allow-nonfinite");
        Assert.That(code, Is.Zero, err);
        Assert.That(err, Does.Contain("warning"));
        Assert.That(Npy.Read(P("y.npy")).Floats, Has.Some.NaN);

        WriteForwardInputs(TestData.Normal(64, 1), float.NaN);
        File.Delete(P("y.npy"));
        (code, _, err) = Forward();
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("t.npy"));
    }

    [Test]
    public void ANonFiniteForwardResultIsExitCode3AndWritesNothing()
    {
        // Finite inputs at the edge of float32 overflow inside the first convolution: the output is not finite.
        WriteForwardInputs(Enumerable.Range(0, 64).Select(i => i % 2 == 0 ? 3e38f : -3e38f).ToArray());
        var (code, _, err) = Forward();
        Assert.That(code, Is.EqualTo(CliErrors.NonFiniteResult), err);
        Assert.That(err, Does.Contain("non-finite result").And.Contain("nothing was written"));
        Assert.That(File.Exists(P("y.npy")), Is.False);
        (code, _, err) = Forward("--allow-nonfinite");
        Assert.That(code, Is.Zero, err);
        Assert.That(File.Exists(P("y.npy")));
    }

    [Test]
    public void EvalRefusesNaNEmptyAndMismatchedInputs()
    {
        var good = TestData.Uniform(2 * 256, 1, 0, 1);
        Npy.Write(P("good.npy"), good, [2, 1, 16, 16]);
        var nan = (float[])good.Clone();
        nan[3] = float.NaN;
        Npy.Write(P("nan.npy"), nan, [2, 1, 16, 16]);
        Npy.Write(P("empty.npy"), Array.Empty<float>(), [0, 1, 16, 16]);
        Npy.Write(P("other-size.npy"), TestData.Uniform(2 * 1024, 2, 0, 1), [2, 1, 32, 32]);
        Npy.Write(P("flat.npy"), good, [512]);
        Npy.Write(P("tiny.npy"), TestData.Uniform(2 * 16, 2, 0, 1), [2, 1, 4, 4]);
        foreach (var (args, expected) in new[]
                 {
                     (new[] { "--samples", P("nan.npy") }, "non-finite"),
                     (new[] { "--samples", P("empty.npy") }, "holds no images"),
                     (new[] { "--samples", P("flat.npy") }, "[N, 1, S, S]"),
                     (new[] { "--samples", P("tiny.npy") }, "smaller than"),
                     (new[] { "--samples", P("good.npy"), "--reference", P("other-size.npy") }, "do not match"),
                     (new[] { "--samples", P("good.npy"), "--reference", P("nan.npy") }, "non-finite"),
                     (new[] { "--samples", P("good.npy"), "--reference", P("empty.npy") }, "holds no images"),
                 })
        {
            var (code, stdout, err) = CliRunner.Run(["eval", .. args, "--reference-count", "4"]);
            Assert.That(code, Is.EqualTo(CliErrors.UserError), string.Join(" ", args) + "\n" + err);
            Assert.That(err, Does.Contain(expected));
            Assert.That(stdout, Does.Not.Contain("NaN").And.Not.Contain("Infinity"));
        }
        var (ok, output, error) = CliRunner.Run("eval", "--samples", P("good.npy"), "--reference", P("good.npy"), "--samples-range", "0,1", "--reference-count", "4");
        Assert.That(ok, Is.Zero, error);
        Assert.That(output, Does.Contain("sliced W 0.0000"), "a set against itself is at distance 0");
    }

    [Test]
    public void SampleRefusesNonFiniteStartingNoiseUnlessAllowed()
    {
        File.WriteAllText(P("gmm.json"), """{"shape": [1, 8, 8], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2]}""");
        var noise = TestData.Normal(2 * 64, 1);
        noise[64] = float.NaN;
        Npy.Write(P("noise.npy"), noise, [2, 1, 8, 8]);
        string[] args = ["sample", "--model", "gmm:" + P("gmm.json"), "--sampler", "euler", "--steps", "3", "--num-samples", "2", "--init", P("noise.npy"), "--output", P("out"), "--device", "cpu"];
        var (code, _, err) = CliRunner.Run(args);
        Assert.That(code, Is.EqualTo(CliErrors.UserError));
        Assert.That(err, Does.Contain("noise.npy").And.Contain("--allow-nonfinite"));
        (code, _, err) = CliRunner.Run([.. args, "--allow-nonfinite"]);
        Assert.That(code, Is.Zero, err);
        Assert.That(err, Does.Contain("warning: samples.npy holds"));
    }
}
