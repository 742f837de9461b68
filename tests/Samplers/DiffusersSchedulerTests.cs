using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

/// <summary>
/// Every diffusers scheduler class against diffusers itself (tests/fixtures/diffusers, made by
/// tools/fixtures/make_diffusers_fixtures.py from diffusers' own scheduler code): the same x_T, the same network (a
/// linear function of x and t, or the tiny golden U-Net), the config file diffusers' save_config wrote; the network must
/// be called at diffusers' timesteps and every step's sample must match. Configurations diffusers refuses or fails on
/// must be refused here too, and runs where diffusers produces NaN must stop with a NumericalInstabilityException.
/// </summary>
public class DiffusersSchedulerTests
{
    /// <summary>
    /// 1e-5 of the trajectory's largest magnitude, the bound the fixtures' float32 runs allow: diffusers evaluates its
    /// step coefficients in float32 (its own float32-vs-float64 spread on these runs is 2e-6 to 3e-5 where coefficients
    /// cancel) and these are evaluated in double, so the two runs differ by that much at most.
    /// </summary>
    private const double Tolerance = 1e-5;

    public static IEnumerable<string> Classes => DiffusersScheduler.Classes;

    [Test]
    public void FixturesComeFromTheReproducedRelease()
    {
        Assert.That(DiffusersFixture.Version, Is.EqualTo(DiffusersScheduler.DiffusersVersion));
        Assert.That(DiffusersFixture.Cases.Select(c => c.Class).Distinct(), Is.EquivalentTo(DiffusersScheduler.Classes));
    }

    [TestCaseSource(nameof(Classes))]
    public void LinearModelRunsMatchDiffusers(string cls)
    {
        var failures = new List<string>();
        double worst = 0, worst64 = 0;
        string worstCase = "", looseCase = "";
        int loose = 0;
        int ok = 0, refused = 0, nonFinite = 0;
        foreach (var c in DiffusersFixture.Cases.Where(c => c.Class == cls && c.Model == "linear"))
        {
            try
            {
                var result = RunCase(c, TestBackends.Cpu);
                switch (c.Outcome)
                {
                    case "ok" when result.Error is null:
                        ok++;
                        if (result.Worst32 > worst) (worst, worstCase) = (result.Worst32, c.ToString());
                        worst64 = Math.Max(worst64, result.Worst64);
                        if (result.Noise > Tolerance) (loose, looseCase) = (loose + 1, $"{c}: diffusers' float32 run is {result.Noise:E2} from its float64 twin, this {result.Worst32:E2} from the first and {result.Worst64:E2} from the second");
                        if (result.Mismatch is { } m) failures.Add($"{c}: {m}");
                        break;
                    case "ok":
                        failures.Add($"{c}: diffusers runs, this threw {result.Error}");
                        break;
                    case "nan" when result.Error is NumericalInstabilityException:
                        nonFinite++;
                        break;
                    case "error" when result.Error is ModelFormatException or ArgumentException or NumericalInstabilityException:
                        refused++;
                        break;
                    default:
                        failures.Add($"{c}: diffusers gives {c.Outcome} ({c.Error}), this gave {(result.Error is null ? "a result" : result.Error.GetType().Name + ": " + result.Error.Message)}");
                        break;
                }
            }
            catch (Exception e)
            {
                failures.Add($"{c}: {e.GetType().Name}: {e.Message}");
            }
        }
        TestContext.Out.WriteLine($"{cls}: {ok} matching runs (worst {worst:E2} against diffusers, {worstCase}; worst {worst64:E2} against its float64 twin), "
                                  + $"{refused} refused as diffusers refuses them, {nonFinite} non-finite as in diffusers");
        if (loose > 0) TestContext.Out.WriteLine($"  {loose} runs where diffusers' own float32 error exceeds {Tolerance:E0}, e.g. {looseCase}");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(40)));
        Assert.That(ok, Is.GreaterThan(30));
    }

    /// <summary>Errors relative to max |reference| against diffusers' float32 run (what a pipeline gives) and its float64 twin, worst over every stored step.</summary>
    internal sealed record CaseResult(Exception? Error, double Worst32, double Worst64, double Noise, string? Mismatch);

    /// <summary>The tiny golden U-Net (tests/fixtures/unet/tiny_ddpm) under every class, on the CPU backend.</summary>
    [Test]
    public void UNetRunsMatchDiffusers()
    {
        var failures = new List<string>();
        var cases = DiffusersFixture.Cases.Where(c => c.Model == "unet").ToList();
        foreach (var c in cases)
        {
            var r = RunCase(c, TestBackends.Cpu, unet: true);
            TestContext.Out.WriteLine($"{c}: {(r.Error is null ? $"error {r.Worst32:E2} against diffusers, {r.Worst64:E2} against its float64 twin (spread {r.Noise:E2})" : r.Error.Message)}");
            if (c.Outcome != "ok" || r.Error is not null || r.Mismatch is not null) failures.Add($"{c}: {r.Error?.Message ?? r.Mismatch ?? c.Outcome}");
        }
        Assert.That(cases.Select(c => c.Class).Distinct().Count(), Is.EqualTo(DiffusersScheduler.Classes.Count));
        Assert.That(failures, Is.Empty, string.Join("\n", failures));
    }

    /// <summary>
    /// The same schedulers on ILGPU's CPU accelerator (the GPU kernels): a few cases per class, among them the
    /// thresholded, clipped and stochastic ones (few and tiny: the accelerator emulates GPU threads slowly).
    /// </summary>
    [Test]
    public void LinearModelRunsMatchDiffusersOnIlgpuCpu()
    {
        var picked = DiffusersFixture.Cases.Where(c => c.Model == "linear" && c.Outcome == "ok" && c.Steps == 10)
            .GroupBy(c => (c.Class, Special: c.Asked.Contains("thresholding") || c.Asked.Contains("clip_sample") || c.Eta is not null || c.Class.Contains("Ancestral") || c.Class.Contains("DDPM")))
            .Select(g => g.First()).ToList();
        var failures = new List<string>();
        foreach (var c in picked)
        {
            var r = RunCase(c, TestBackends.IlgpuCpu);
            if (r.Error is not null || r.Mismatch is not null) failures.Add($"{c}: {r.Error?.Message ?? r.Mismatch}");
        }
        TestContext.Out.WriteLine($"{picked.Count} cases on ilgpu-cpu");
        Assert.That(picked.Count, Is.GreaterThanOrEqualTo(DiffusersScheduler.Classes.Count));
        Assert.That(failures, Is.Empty, string.Join("\n", failures));
    }

    /// <summary>
    /// The bound at one step: 1e-5 of the largest magnitude, or, where diffusers' own float32 run is further than that
    /// from its float64 twin (n: coefficients or stored history that cancel in float32, e.g. a one-step run from σ_max
    /// or Lagrange weights on clustered σ), 3n. This engine also keeps the state and history in float32 (its step
    /// coefficients in double), so on such steps it carries float32 rounding of the same size: two float32 runs differ by
    /// up to about 2n; 3n leaves headroom. Applied against both diffusers runs.
    /// </summary>
    internal static double Bound(double noise) => Math.Max(Tolerance, 3 * noise);

    /// <summary>Runs one case; compares timesteps and every stored step. Errors are returned, not thrown.</summary>
    internal static CaseResult RunCase(DiffusersCase c, Backend b, bool unet = false)
    {
        DiffusersScheduler scheduler;
        SchedulerConfig config;
        try
        {
            config = c.Config is { } text
                ? SchedulerConfig.Parse(text, $"{c.Id}/scheduler_config.json")
                : SchedulerConfig.Parse($"{{\"_class_name\": \"{c.Class}\", {c.Asked.Trim()[1..]}", $"{c.Id}/scheduler_config.json");
            scheduler = DiffusersScheduler.FromConfig(config, c.Eta);
        }
        catch (Exception e) when (e is ModelFormatException or ArgumentException)
        {
            return new CaseResult(e, 0, 0, 0, null);
        }
        string prefix = unet ? "unet_x_T" : "x_T";
        var shape = DiffusersFixture.ShapeOf(prefix);
        using var x = b.Upload(DiffusersFixture.Floats(prefix), new Shape(shape));
        IDiffusersModel model;
        UNet2DModel? network = null;
        if (unet)
        {
            network = UNet2DModel.Load(Fixtures.Path("unet", "tiny_ddpm"), b);
            model = new UNetDenoiser(network.Compile(shape[0], shape[2], shape[3]), config.CreateSchedule(), config.Prediction, shape[1..]);
        }
        else model = new LinearDiffusersModel(b, config.PredictionType, shape[1..], shape[0]);
        try
        {
            string id = c.Id;
            var t32 = DiffusersFixture.Has(id + "/trajectory") ? DiffusersFixture.Floats(id + "/trajectory") : null;
            var t64 = DiffusersFixture.Has(id + "/trajectory64") ? DiffusersFixture.Floats(id + "/trajectory64") : null;
            bool has64 = DiffusersFixture.Has(id + "/final64");
            double worst32 = 0, worst64 = 0, noise = 0;
            string? mismatch = null;
            int per = (int)x.Shape.Length;
            void Check(ReadOnlySpan<float> d32, ReadOnlySpan<float> d64, float[] ours, string where)
            {
                var (e32, at) = Compare(d32, ours);
                double e64 = d64.IsEmpty ? e32 : Compare(d64, ours).Error, n = d64.IsEmpty ? 0 : Compare(d64, d32).Error;
                worst32 = Math.Max(worst32, e32);
                worst64 = Math.Max(worst64, e64);
                noise = Math.Max(noise, n);
                if (e32 > Bound(n) || e64 > Bound(n))
                    mismatch ??= $"{where}: error {e32:E2} of max |x| against diffusers (element {at}), {e64:E2} against its float64 twin, which is {n:E2} from its float32 run";
            }
            var options = new SamplerOptions
            {
                Callback = s =>
                {
                    if (t32 is null) return;
                    Check(t32.AsSpan(s.Step * per, per), t64 is null ? default : t64.AsSpan(s.Step * per, per), x.ToArray(), $"step {s.Step}");
                },
            };
            try
            {
                scheduler.Sample(model, x, c.Steps, options, DiffusersFixture.Noise(c, b));
            }
            catch (Exception e) when (e is NumericalInstabilityException or ArgumentException or ModelFormatException)
            {
                return new CaseResult(e, 0, 0, 0, null);
            }
            if (c.Outcome != "ok") return new CaseResult(null, 0, 0, 0, null);
            var expectedTimesteps = DiffusersFixture.Floats(id + "/timesteps");
            var calls = model is LinearDiffusersModel linear ? linear.Calls.ToArray() : scheduler.Timesteps(c.Steps).ToArray();
            if (SameTimesteps(expectedTimesteps, calls) is { } bad)
                mismatch ??= bad;
            Check(DiffusersFixture.Floats(id + "/final"), has64 ? DiffusersFixture.Floats(id + "/final64") : default, x.ToArray(), "final sample");
            return new CaseResult(null, worst32, worst64, noise, mismatch);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
            network?.Dispose();
        }
    }

    /// <summary>
    /// Timesteps agree to 4 float32 ulps or 1e-5: a fractional timestep diffusers derives from its float32 log σ table
    /// moves when an entry does (numpy's SIMD float32 log differs from a correctly rounded one in the last bit on ~14% of
    /// the entries, and by CPU and numpy build): a one-ulp change of log σ moves t by up to ~3e-6 where the table is
    /// steep (small t). Integer timesteps agree exactly (an ulp of 1000 is 6e-5; an off-by-one grid is 1).
    /// </summary>
    private static string? SameTimesteps(float[] expected, float[] actual)
    {
        if (expected.Length != actual.Length) return $"{actual.Length} network calls, diffusers makes {expected.Length}";
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (Math.Abs(a - e) > Math.Max(4 * (MathF.BitIncrement(Math.Abs(e)) - Math.Abs(e)), 1e-5)) return $"call {i} at timestep {a:R}, diffusers' at {e:R}";
        }
        return null;
    }

    /// <summary>max |actual − expected| / max |expected|, and where.</summary>
    private static (double Error, int At) Compare(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double scale = 0, worst = 0;
        int at = -1;
        foreach (var v in expected) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)actual[i] - expected[i]);
            if (!(d <= worst)) { worst = double.IsNaN(d) ? double.PositiveInfinity : d; at = i; }
        }
        return (worst / Math.Max(scale, 1e-30), at);
    }
}
