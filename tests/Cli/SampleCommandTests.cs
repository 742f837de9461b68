using DiffusionKernels.Runtime.IO;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

public class SampleCommandTests
{
    private string _dir = "";
    private string P(string name) => Path.Combine(_dir, name);

    [SetUp]
    public void MakeDir()
    {
        Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "dk-sample-" + Guid.NewGuid().ToString("N")));
        File.WriteAllText(P("gmm.json"), """{"shape": [1, 8, 8], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2], "beta_schedule": "linear"}""");
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void SamplesAGaussianMixtureIntoAFreshFolder()
    {
        var (code, output, err) = CliRunner.Run("sample", "--model", "gmm:" + P("gmm.json"), "--sampler", "heun", "--steps", "12", "--num-samples", "64",
            "--batch-size", "24", "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("NFE").And.Contain("images/s"));
        var s = Npy.Read(P("out/samples.npy"));
        Assert.That(s.Shape, Is.EqualTo(new[] { 64, 1, 8, 8 }));
        var means = Enumerable.Range(0, 64).Select(k => s.Floats!.Skip(k * 64).Take(64).Average()).ToArray();
        Assert.That(means, Is.All.InRange(-1.0f, -0.6f).Or.InRange(0.4f, 0.8f), "every sample lands in one of the two components");
        Assert.That(File.Exists(P("out/grid.png")) && File.Exists(P("out/sample_0063.png")));
        Assert.That(Directory.GetDirectories(_dir), Has.Length.EqualTo(1), "no partial folder left behind");
    }

    [Test]
    public void AnExistingFolderIsKeptWithoutForce()
    {
        Directory.CreateDirectory(P("out"));
        File.WriteAllText(P("out/keep.txt"), "x");
        var (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P("gmm.json"), "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("--force"));
        Assert.That(File.Exists(P("out/keep.txt")));
    }

    [TestCase("--sampler", "plms_fast", "unknown sampler")]
    [TestCase("--num-samples", "0", "--num-samples")]
    [TestCase("--steps", "0", "--steps")]
    public void BadOptionsAreClearErrors(string option, string value, string expected)
    {
        var (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P("gmm.json"), option, value, "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain(expected));
        Assert.That(Directory.Exists(P("out")), Is.False);
    }

    [Test]
    public void EtaForADeterministicSamplerAndAMissingModelAreErrors()
    {
        var (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P("gmm.json"), "--sampler", "heun", "--eta", "0.5", "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("η"));
        (code, _, err) = CliRunner.Run("sample", "--model", P("missing-model"), "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("missing-model"));
    }

    [TestCase("euler", "--s-churn", "5", "--s-churn: sampler 'euler' does not take S_churn (s_churn); samplers that do: heun")]
    [TestCase("heun", "--s-churn", "-1", "--s-churn must be a finite number ≥ 0, found -1")]
    [TestCase("dpmpp_2m", "--rtol", "1e-3", "--rtol: sampler 'dpmpp_2m' does not take rtol; samplers that do: rk45")]
    [TestCase("pc_ve", "--snr", "-0.5", "--snr must be a finite number ≥ 0, found -0.5")]
    [TestCase("pc_vp", "--corrector-steps", "-1", "--corrector-steps must be ≥ 0, found -1")]
    [TestCase("annealed_langevin", "--langevin-steps", "0", "--langevin-steps must be ≥ 1, found 0")]
    [TestCase("annealed_langevin", "--langevin-epsilon", "0", "--langevin-epsilon must be > 0, found 0")]
    [TestCase("dpm_solver_2", "--lower-order-final", "false", "--lower-order-final: sampler 'dpm_solver_2' does not take lower_order_final")]
    [TestCase("euler", "--eta", "0.5", "--eta: sampler 'euler' does not take η (eta)")]
    public void SolverSettingFlagsAreCheckedAgainstTheSampler(string sampler, string flag, string value, string expected)
    {
        var (code, _, err) = CliRunner.Run("sample", "--model", "gmm:" + P("gmm.json"), "--sampler", sampler, flag, value, "--output", P("out"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain(expected));
        Assert.That(Directory.Exists(P("out")), Is.False);
    }

    // 3 steps on this model's Karras grid: σ ≈ 157, 5.9, 0.01, then 0 (churn applies to 5.9 only).
    [TestCase("heun", 3, new[] { "--s-churn", "10", "--s-tmin", "0.05", "--s-tmax", "10", "--s-noise", "1.003" }, 2 * 2 + 1)]
    [TestCase("rk45", 3, new[] { "--rtol", "1e-3", "--atol", "1e-3" }, -1)]
    [TestCase("pc_ve", 3, new[] { "--snr", "0.1", "--corrector-steps", "2" }, 3 * 3)]
    [TestCase("annealed_langevin", 3, new[] { "--langevin-steps", "2", "--langevin-epsilon", "1e-4" }, 3 * 2 + 1)]
    // lower_order_final caps the order of the step before the last (the last, to σ = 0, is x̂₀ either way).
    [TestCase("deis_3", 6, new[] { "--lower-order-final", "false" }, 6)]
    [TestCase("dpmpp_3m_sde", 6, new[] { "--eta", "0.5", "--lower-order-final", "true" }, 6)]
    public void SolverSettingFlagsReachTheSolver(string sampler, int steps, string[] flags, int nfe)
    {
        string[] Args(string output, params string[] extra) =>
            ["sample", "--model", "gmm:" + P("gmm.json"), "--sampler", sampler, "--steps", steps.ToString(), "--num-samples", "2", "--output", P(output), "--device", "cpu", .. extra];
        var (code, output, err) = CliRunner.Run(Args("with", flags));
        Assert.That(code, Is.Zero, err);
        if (nfe > 0) Assert.That(output, Does.Contain($"NFE {nfe} "));
        (code, _, err) = CliRunner.Run(Args("without"));
        Assert.That(code, Is.Zero, err);
        Assert.That(Npy.Read(P("with/samples.npy")).Floats, Is.Not.EqualTo(Npy.Read(P("without/samples.npy")).Floats), "the settings change the samples");
    }

    [Test]
    public void StudyAppliesASettingToTheSamplersThatTakeIt()
    {
        // 16×16: dk study's sliced Wasserstein compares images downsampled to 16×16.
        File.WriteAllText(P("gmm16.json"), """{"shape": [1, 16, 16], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2], "beta_schedule": "linear"}""");
        string[] Args(string output, params string[] extra) =>
            ["study", "--model", "gmm:" + P("gmm16.json"), "--samplers", "euler,heun", "--steps", "3", "--num-samples", "4", "--reference-count", "16",
             "--ode-tolerance", "0", "--output", P(output), "--device", "cpu", .. extra];
        var (code, _, err) = CliRunner.Run(Args("churn", "--s-churn", "10"));
        Assert.That(code, Is.Zero, err);
        (code, _, err) = CliRunner.Run(Args("plain"));
        Assert.That(code, Is.Zero, err);
        string[] Rows(string folder) => [.. File.ReadAllLines(P(folder + "/study.csv")).Skip(1).Select(l => string.Join(",", l.Split(',')[..6]))];
        var (churn, plain) = (Rows("churn"), Rows("plain"));
        Assert.That(churn[0], Is.EqualTo(plain[0]), "euler takes no churn");
        Assert.That(churn[1], Is.Not.EqualTo(plain[1]), "heun's samples change with churn");
        (code, _, err) = CliRunner.Run(Args("none", "--rtol", "1e-3"));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("--rtol: none of the samplers euler, heun takes rtol; samplers that do: rk45"));
    }

    [Test]
    public void SamplersListsEachSolversSettingsWithDefaults()
    {
        var (code, output, err) = CliRunner.Run("samplers");
        Assert.That(code, Is.Zero, err);
        var lines = output.Split('\n');
        Assert.That(lines.Single(l => l.StartsWith("heun ")), Does.EndWith("s_churn=0 s_tmin=0 s_tmax=inf s_noise=1"));
        Assert.That(lines.Single(l => l.StartsWith("dpmpp_2m_sde ")), Does.EndWith("eta=1"));
        Assert.That(lines.Single(l => l.StartsWith("dpmpp_2m ")), Does.EndWith(" -"));
        Assert.That(lines.Single(l => l.StartsWith("rk45 ")), Does.EndWith("rtol=1e-5 atol=1e-5"));
        Assert.That(lines.Single(l => l.StartsWith("pc_vp ")), Does.EndWith("snr=0.01 corrector_steps=1"));
        Assert.That(output, Does.Contain("S_churn (s_churn): "));
    }
}
