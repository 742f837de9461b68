using System.Text.Json;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

/// <summary>Schedules and grids against diffusers' formulas (tools/fixtures/make_schedule_fixtures.py).</summary>
public class ScheduleTableTests
{
    private static readonly Dictionary<string, (double Start, double End)> Ranges = new()
    {
        ["linear"] = (0.0001, 0.02),
        ["scaled_linear"] = (0.00085, 0.012),
        ["squaredcos_cap_v2"] = (0.0001, 0.02),
        ["sigmoid"] = (0.0001, 0.02),
    };

    private static JsonElement Tables(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("schedules", "tables.json")));
        return doc.RootElement.GetProperty(name).Clone();
    }

    /// <summary>Element-wise |actual − expected| ≤ 1e-6·|expected| + <paramref name="absolute"/>.</summary>
    private static void CloseEach(IReadOnlyList<double> expected, IReadOnlyList<double> actual, string what, double absolute = 1e-12)
    {
        Assert.That(actual.Count, Is.EqualTo(expected.Count), what);
        double worst = 0;
        for (int i = 0; i < expected.Count; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / (1e-6 * Math.Abs(expected[i]) + absolute));
        TestContext.Out.WriteLine($"{what}: worst error {worst:F3} of the tolerance");
        for (int i = 0; i < expected.Count; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-6 * Math.Abs(expected[i]) + absolute), $"{what} [{i}]");
    }

    [Test]
    public void BetasAndAlphasCumprodMatchDiffusers(
        [Values("linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid")] string schedule, [Values] bool zeroSnr)
    {
        var table = Npy.Read(Fixtures.Path("schedules", $"betas_{schedule}{(zeroSnr ? "_zsnr" : "")}.npy"));
        var values = table.AsFloat32();
        int T = table.Shape[1];
        var s = DiscreteSchedule.Create(schedule, T, Ranges[schedule].Start, Ranges[schedule].End, zeroSnr);
        // 1e-6 relative; zero-SNR adds 1e-6 absolute (β and ᾱ lie in [0, 1]): the rescale forms β = 1 − ᾱ_t/ᾱ_{t−1}
        // in float32 from √ᾱ_t − √ᾱ_T, which near T turns a last-bit difference of torch's float32 exp into ~1e-6 of β
        // (today every table matches to ~1e-7 relative, most bit for bit).
        CloseEach(values[..T].Select(v => (double)v).ToArray(), s.Betas, $"{schedule} zsnr={zeroSnr} betas", zeroSnr ? 1e-6 : 1e-12);
        CloseEach(values[T..].Select(v => (double)v).ToArray(), s.AlphasCumprod, $"{schedule} zsnr={zeroSnr} alphas_cumprod", zeroSnr ? 1e-6 : 1e-12);
        if (zeroSnr)
        {
            Assert.That(s.AlphasCumprod[^1], Is.EqualTo(0), "zero terminal SNR");
            Assert.That(s.Betas[^1], Is.EqualTo(1));
            // σ reads the terminal ᾱ as 2⁻²⁴ (diffusers' Euler / DPM-Solver): finite, ≈ 4096.
            Assert.That(s.SigmaMax, Is.EqualTo(Math.Sqrt((1 - Math.Pow(2, -24)) * Math.Pow(2, 24))).Within(1e-9));
            Assert.That(s.AlphasCumprod[0], Is.EqualTo(DiscreteSchedule.Create(schedule, T, Ranges[schedule].Start, Ranges[schedule].End).AlphasCumprod[0]).Within(1e-7),
                "the rescale keeps the first ᾱ");
        }
    }

    [Test]
    public void DdimTimestepsMatchDiffusers()
    {
        var s = DiscreteSchedule.Create("linear");
        foreach (var c in Tables("ddim_timesteps").EnumerateArray())
        {
            int steps = c.GetProperty("steps").GetInt32(), offset = c.GetProperty("offset").GetInt32();
            string spacing = c.GetProperty("spacing").GetString()!;
            var expected = c.GetProperty("timesteps").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            Assert.That(s.InferenceTimesteps(steps, spacing, offset), Is.EqualTo(expected), $"{steps} {spacing} offset {offset}");
        }
    }

    [TestCase("euler")]
    [TestCase("dpmsolver")]
    public void SigmaTablesMatchDiffusers(string scheduler)
    {
        var schedules = new Dictionary<(string, bool), DiscreteSchedule>();
        int count = 0;
        foreach (var c in Tables(scheduler).EnumerateArray())
        {
            string name = c.GetProperty("schedule").GetString()!, spacing = c.GetProperty("spacing").GetString()!, final = c.GetProperty("final").GetString()!;
            bool zsnr = c.GetProperty("zero_snr").GetBoolean(), karras = c.GetProperty("karras").GetBoolean();
            int steps = c.GetProperty("steps").GetInt32(), offset = c.GetProperty("offset").GetInt32();
            if (!schedules.TryGetValue((name, zsnr), out var s))
                schedules[(name, zsnr)] = s = DiscreteSchedule.Create(name, 1000, Ranges[name].Start, Ranges[name].End, zsnr);
            var expected = c.GetProperty("sigmas").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            var actual = scheduler == "euler"
                ? DiffusersGrids.Euler(s, steps, spacing, offset, karras, final)
                : DiffusersGrids.DpmSolver(s, steps, spacing, offset, karras, final);
            // The fixture holds float32 values: compare after the same rounding.
            CloseEach(expected, actual.Select(v => (double)(float)v).ToArray(), $"{scheduler} {name} zsnr={zsnr} {steps} {spacing}+{offset} karras={karras} {final}");
            count++;
        }
        Assert.That(count, Is.GreaterThan(100));
    }

    [Test]
    public void DiscreteGridEndsOnTheFinalSigmaType()
    {
        var s = DiscreteSchedule.Create("linear");
        Assert.That(s.InferenceSigmas(10, "leading", 1)[^1], Is.EqualTo(0));
        Assert.That(s.InferenceSigmas(10, "leading", 1, "sigma_min")[^1], Is.EqualTo(s.SigmaMin));
        Assert.Throws<ArgumentException>(() => s.InferenceSigmas(10, "leading", 1, "one"));
        var config = SchedulerConfig.Parse("""{"beta_schedule": "sigmoid", "rescale_betas_zero_snr": true, "final_sigmas_type": "sigma_min"}""", "test");
        Assert.That(config.CreateSchedule().AlphasCumprod[^1], Is.EqualTo(0));
        Assert.That(config.FinalSigmasType, Is.EqualTo("sigma_min"));
        Assert.Throws<ModelFormatException>(() => SchedulerConfig.Parse("""{"final_sigmas_type": "min"}""", "test"));
    }

    [TestCase("vp")]
    [TestCase("subvp")]
    [TestCase("ve")]
    public void ContinuousSchedulesInvertSigma(string name)
    {
        ContinuousSchedule s = name switch { "vp" => new VpSchedule(), "subvp" => new SubVpSchedule(), _ => new VeSchedule() };
        foreach (var t in new[] { 1e-5, 1e-3, 0.01, 0.3, 0.5, 0.99, 1 })
            Assert.That(s.TimeOf(s.Sigma(t)), Is.EqualTo(t).Within(1e-9 + 1e-9 * t), $"{name} t = {t}");
        var grid = s.Sigmas(10);
        Assert.That(grid, Has.Length.EqualTo(11));
        Assert.That(grid[0], Is.EqualTo(s.Sigma(1)).Within(1e-12));
        Assert.That(grid[9], Is.EqualTo(s.Sigma(s.Epsilon)).Within(1e-12));
        Assert.That(grid[10], Is.EqualTo(0));
        Assert.That(s.Sigmas(10, appendZero: false)[10], Is.EqualTo(s.Sigma(s.Epsilon)).Within(1e-12));
        // σ = s/m and the SDE's marginal: for VP ᾱ = m², s² = 1 − ᾱ; for sub-VP s = 1 − m²; VE m = 1.
        double t0 = 0.4, m = s.Scale(t0), sigma = s.Sigma(t0);
        double expectedStd = name switch { "vp" => Math.Sqrt(1 - m * m), "subvp" => 1 - m * m, _ => sigma };
        Assert.That(sigma * m, Is.EqualTo(expectedStd).Within(1e-12));
        // g² = d(s²)/dt − 2f·s² (the variance ODE of a linear SDE), checked by central differences.
        double h = 1e-5;
        double V(double u) => Math.Pow(s.Sigma(u) * s.Scale(u), 2);
        double g2 = (V(t0 + h) - V(t0 - h)) / (2 * h) - 2 * s.Drift(t0) * V(t0);
        Assert.That(s.DiffusionSquared(t0), Is.EqualTo(g2).Within(1e-6 * g2));
    }

    [Test]
    public void VpScheduleMatchesScoreSde()
    {
        var vp = new VpSchedule();
        // score_sde VPSDE.marginal_prob: log_mean_coeff = −¼t²(β_max − β_min) − ½tβ_min.
        Assert.That(Math.Log(vp.Scale(0.7)), Is.EqualTo(-0.25 * 0.49 * 19.9 - 0.5 * 0.7 * 0.1).Within(1e-12));
        Assert.That(vp.Sigma(1), Is.EqualTo(Math.Sqrt(Math.Exp(0.5 * 19.9 + 0.1) - 1)).Within(1e-9));
        Assert.That(new VeSchedule(0.01, 50).Sigma(0.5), Is.EqualTo(0.01 * Math.Sqrt(5000)).Within(1e-12));
    }
}
