using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

/// <summary>Reading diffusers scheduler configs: class defaults, unknown keys and values, and the library API around them.</summary>
public class DiffusersConfigTests
{
    private static SchedulerConfig Parse(string json) => SchedulerConfig.Parse(json, "model/scheduler_config.json");

    [Test]
    public void AbsentKeysTakeTheClassDefaults()
    {
        var ddim = Parse("""{"_class_name": "DDIMScheduler"}""");
        Assert.That((ddim.ClipSample, ddim.SetAlphaToOne, ddim.TimestepSpacing), Is.EqualTo((true, true, "leading")));
        var pndm = Parse("""{"_class_name": "PNDMScheduler"}""");
        Assert.That((pndm.ClipSample, pndm.SetAlphaToOne, pndm.SkipPrkSteps), Is.EqualTo((false, false, false)));
        var heun = Parse("""{"_class_name": "HeunDiscreteScheduler"}""");
        Assert.That((heun.BetaStart, heun.BetaEnd, heun.TimestepSpacing), Is.EqualTo((0.00085, 0.012, "linspace")));
        var single = Parse("""{"_class_name": "DPMSolverSinglestepScheduler"}""");
        Assert.That(single.LowerOrderFinal, Is.False);
        var unipc = Parse("""{"_class_name": "UniPCMultistepScheduler"}""");
        Assert.That((unipc.SolverType, unipc.PredictX0), Is.EqualTo(("bh2", true)));
        Assert.That(DiffusersScheduler.Defaults("DEISMultistepScheduler").AlgorithmType, Is.EqualTo("deis"));
        // Without a class: dk's own defaults, unknown keys ignored (as before).
        var plain = Parse("""{"beta_schedule": "scaled_linear", "some_future_key": 3}""");
        Assert.That((plain.ClassName, plain.ClipSample, plain.TimestepSpacing), Is.EqualTo(((string?)null, false, "leading")));
    }

    [Test]
    public void UseDefaultValuesReadsTheClassDefault()
    {
        var c = Parse("""{"_class_name": "DDIMScheduler", "clip_sample": false, "_use_default_values": ["clip_sample"]}""");
        Assert.That(c.ClipSample, Is.True);
    }

    [Test]
    public void PythonInfinityLiteralIsRead()
    {
        var c = Parse("""{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "use_karras_sigmas": null}""");
        Assert.That(c.LambdaMinClipped, Is.EqualTo(double.NegativeInfinity));
        Assert.That(c.UseKarrasSigmas, Is.False);
        Assert.That(Parse("""{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -5.1}""").LambdaMinClipped, Is.EqualTo(-5.1));
    }

    [Test]
    public void KeysOfOtherClassesAreIgnoredAndUnknownKeysAreErrors()
    {
        // Stable Diffusion 1.x ships a PNDMScheduler config with DDIM's clip_sample: diffusers ignores it with a warning.
        var sd = Parse("""{"_class_name": "PNDMScheduler", "clip_sample": false, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null}""");
        Assert.That(sd.IgnoredKeys, Is.EqualTo(new[] { "clip_sample" }));
        var e = Assert.Throws<ModelFormatException>(() => Parse("""{"_class_name": "DDIMScheduler", "clip_smaple": true}"""));
        Assert.That(e!.Message, Does.Contain("model/scheduler_config.json").And.Contain("clip_smaple").And.Contain("set_alpha_to_one"));
    }

    [Test]
    public void BadValuesNameTheFileAndKey()
    {
        var e = Assert.Throws<ModelFormatException>(() => Parse("""{"_class_name": "DDIMScheduler", "timestep_spacing": "uniform"}"""));
        Assert.That(e!.Message, Does.Contain("model/scheduler_config.json").And.Contain("timestep_spacing").And.Contain("linspace"));
        e = Assert.Throws<ModelFormatException>(() => DiffusersScheduler.FromConfig(Parse("""{"_class_name": "DDIMScheduler", "beta_schedule": "sigmoid"}""")));
        Assert.That(e!.Message, Does.Contain("beta_schedule").And.Contain("DDIMScheduler"));
        e = Assert.Throws<ModelFormatException>(() => DiffusersScheduler.FromConfig(Parse("""{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver"}""")));
        Assert.That(e!.Message, Does.Contain("final_sigmas_type").And.Contain("sigma_min"));
        e = Assert.Throws<ModelFormatException>(() => DiffusersScheduler.FromConfig(Parse("""{"_class_name": "UniPCMultistepScheduler", "use_flow_sigmas": true}""")));
        Assert.That(e!.Message, Does.Contain("use_flow_sigmas"));
        Assert.Throws<ModelFormatException>(() => Parse("""{"_class_name": "DPMSolverMultistepScheduler", "solver_order": 9}"""));
        Assert.Throws<ModelFormatException>(() => DiffusersScheduler.FromConfig(Parse("""{"_class_name": "DPMSolverSinglestepScheduler", "solver_order": 4}""")));
        Assert.Throws<ModelFormatException>(() => Parse("""{"trained_betas": [0.1, 0.2]}"""));
    }

    [Test]
    public void UnknownClassesListTheSupportedOnes()
    {
        var c = Parse("""{"_class_name": "LCMScheduler", "original_inference_steps": 50}""");
        Assert.That(c.ClassName, Is.EqualTo("LCMScheduler"), "explicit samplers still read the schedule");
        var e = Assert.Throws<ModelFormatException>(() => DiffusersScheduler.FromConfig(c));
        Assert.That(e!.Message, Does.Contain("LCMScheduler").And.Contain("UniPCMultistepScheduler").And.Contain("DDIMScheduler"));
        Assert.Throws<ArgumentException>(() => DiffusersScheduler.FromConfig(new SchedulerConfig()));
        Assert.Throws<ArgumentException>(() => DiffusersScheduler.Defaults("LCMScheduler"));
    }

    [Test]
    public void EtaBelongsToDdim()
    {
        var ddim = DiffusersScheduler.FromConfig(DiffusersScheduler.Defaults("DDIMScheduler"), eta: 0.3);
        Assert.That(((DdimScheduler)ddim).Eta, Is.EqualTo(0.3));
        Assert.Throws<ArgumentException>(() => DiffusersScheduler.FromConfig(DiffusersScheduler.Defaults("EulerDiscreteScheduler"), eta: 0.3));
    }

    [Test]
    public void TrainedBetasAndTheAlphaBarSchedules()
    {
        var betas = Enumerable.Range(0, 10).Select(i => 0.01 + 0.02 * i).ToArray();
        var c = Parse($$"""{"num_train_timesteps": 10, "trained_betas": [{{string.Join(", ", betas.Select(b => b.ToString(System.Globalization.CultureInfo.InvariantCulture)))}}]}""");
        Assert.That(c.CreateSchedule().Betas, Is.EqualTo(betas.Select(b => (double)(float)b)).Within(1e-12));
        // betas_for_alpha_bar's "exp": ᾱ(t) = e^{−12t}, so β_i = 1 − e^{−12/T} for every i (before float32 rounding).
        var exp = Parse("""{"_class_name": "HeunDiscreteScheduler", "beta_schedule": "exp", "num_train_timesteps": 100}""").CreateSchedule();
        Assert.That(exp.Betas, Has.All.EqualTo(1 - Math.Exp(-0.12)).Within(1e-7));
        var laplace = Parse("""{"_class_name": "DDPMScheduler", "beta_schedule": "laplace"}""").CreateSchedule();
        Assert.That(laplace.Betas, Has.All.InRange(0.0, 0.999));
    }

    [Test]
    public void TimestepsAreDiffusersGrids()
    {
        // Hand-checked against diffusers v0.40: DDIM leading with steps_offset 1; DPM-Solver's N + 1 point linspace.
        var ddim = DiffusersScheduler.FromConfig(DiffusersScheduler.Defaults("DDIMScheduler") with { StepsOffset = 1 });
        Assert.That(ddim.Timesteps(10), Is.EqualTo(new float[] { 901, 801, 701, 601, 501, 401, 301, 201, 101, 1 }));
        var dpm = DiffusersScheduler.FromConfig(DiffusersScheduler.Defaults("DPMSolverMultistepScheduler"));
        Assert.That(dpm.Timesteps(10), Is.EqualTo(new float[] { 999, 899, 799, 699, 599, 500, 400, 300, 200, 100 }));
        var heun = DiffusersScheduler.FromConfig(DiffusersScheduler.Defaults("HeunDiscreteScheduler"));
        Assert.That(heun.Timesteps(3), Is.EqualTo(new float[] { 999, 499.5f, 499.5f, 0, 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => dpm.Timesteps(1001));
        Assert.Throws<ArgumentException>(() => DiffusersScheduler.FromConfig(DiffusersScheduler.Defaults("PNDMScheduler")).Timesteps(3));
    }

    /// <summary>
    /// diffusers' DDIM (η = 0, final ᾱ = 1, leading spacing, where t − T//N is the next grid point) is dk's ddim on the
    /// same discrete grid, in other coordinates: started from the same point (x_T·√(1 + σ₀²) in σ-space) they land on the
    /// same sample. Checks the σ view of an analytic model too.
    /// </summary>
    [Test]
    public void DiffusersDdimIsDkDdimOnTheDiscreteGrid()
    {
        var b = TestBackends.Cpu;
        string dir = Path.Combine(Path.GetTempPath(), "dk-diffusers-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "gmm.json"), """
                {"shape": [1, 4, 4], "weights": [0.3, 0.7], "means": [-2, 1.5], "stds": [0.4, 0.6],
                 "_class_name": "DDIMScheduler", "clip_sample": false, "timestep_spacing": "leading"}
                """);
            using var model = DiffusionModel.Open("gmm:" + Path.Combine(dir, "gmm.json"), b, 4);
            var noise = TestData.Normal(4 * 16, 11);
            var scheduler = DiffusersScheduler.FromConfig(model.Schedule);
            var viaDiffusers = SampleRunner.Draw(model, scheduler, 12, 4, new SamplerOptions(), noise);
            Assert.That(model.Network.Evaluations, Is.EqualTo(12), "one network call per DDIM step");

            var sigmas = model.Sigmas("discrete", 12);
            double start = Math.Sqrt(1 + sigmas[0] * sigmas[0]) / sigmas[0];
            var viaDk = SampleRunner.Draw(model, SamplerRegistry.Get("ddim"), sigmas, 4, new SamplerOptions(), noise.Select(v => (float)(v * start)).ToArray());
            Close.Assert(viaDk, viaDiffusers, 1e-5, "diffusers DDIM vs dk ddim");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>init_noise_sigma, the factor a pipeline scales the unit-variance x_T by: σ of the first timestep, √(σ² + 1) with leading spacing, 1 for DDIM.</summary>
    [Test]
    public void InitNoiseSigmaIsThePipelines()
    {
        var config = DiffusersScheduler.Defaults("EulerDiscreteScheduler") with { TimestepSpacing = "leading" };
        var sigmas = config.CreateSchedule().Sigmas;
        var leading = DiffusersScheduler.FromConfig(config).Start(5);
        Assert.That(leading.Timesteps[0], Is.EqualTo(800));
        Assert.That(leading.InitNoiseSigma, Is.EqualTo(Math.Sqrt(sigmas[800] * sigmas[800] + 1)).Within(1e-6 * sigmas[800]));
        var trailing = DiffusersScheduler.FromConfig(config with { TimestepSpacing = "trailing" }).Start(5);
        Assert.That(trailing.InitNoiseSigma, Is.EqualTo(sigmas[999]).Within(1e-6 * sigmas[999]));
        Assert.That(DiffusersScheduler.FromConfig(DiffusersScheduler.Defaults("DDIMScheduler")).Start(5).InitNoiseSigma, Is.EqualTo(1));
    }

    /// <summary>With guidance the network a diffusers scheduler calls mixes the raw outputs, as the pipelines do: out(∅) + w·(out(c) − out(∅)).</summary>
    [Test]
    public void GuidedNetworkMixesTheRawOutputs()
    {
        var b = TestBackends.Cpu;
        using var unet = UNet2DModel.Load(Fixtures.Path("unet", "film_classes_f16"), b);
        var x = TestData.Normal(2 * 24 * 24, 9);
        float[] Raw(long label)
        {
            using var d = new UNetDenoiser(unet.Compile(2, 24, 24), DiscreteSchedule.Create("linear"), Prediction.Epsilon, [1, 24, 24], [label, label]);
            using var input = b.Upload(x, new Shape(2, 1, 24, 24));
            using var output = b.Allocate(input.Shape);
            d.Predict(input, 417.5f, output);
            Assert.That(d.Evaluations, Is.EqualTo(1));
            return output.ToArray();
        }
        float[] cond = Raw(1), uncond = Raw(4);
        using var inner = new UNetDenoiser(unet.Compile(2, 24, 24), DiscreteSchedule.Create("linear"), Prediction.Epsilon, [1, 24, 24], [1, 1]);
        using var guided = new GuidedDenoiser(inner, [1, 1], [4, 4], 2.5);
        using var xt = b.Upload(x, new Shape(2, 1, 24, 24));
        using var out_ = b.Allocate(xt.Shape);
        guided.Predict(xt, 417.5f, out_);
        Assert.That(guided.Evaluations, Is.EqualTo(2));
        Close.Assert(uncond.Zip(cond, (u, c) => u + 2.5f * (c - u)).ToArray(), out_.ToArray(), 1e-5, "guided raw output");
    }

    /// <summary>Keys of other classes in a config change nothing, as in diffusers (here: zero-SNR rescaling, clipping and Karras σ on PNDM).</summary>
    [Test]
    public void KeysTheClassDoesNotReadChangeNothing()
    {
        var b = TestBackends.Cpu;
        var plain = Parse("""{"_class_name": "PNDMScheduler", "skip_prk_steps": true}""");
        var extra = Parse("""{"_class_name": "PNDMScheduler", "skip_prk_steps": true, "rescale_betas_zero_snr": true, "clip_sample": true, "use_karras_sigmas": true}""");
        Assert.That(extra.IgnoredKeys, Is.EquivalentTo(new[] { "rescale_betas_zero_snr", "clip_sample", "use_karras_sigmas" }));
        float[] Run(SchedulerConfig config)
        {
            using var model = new LinearDiffusersModel(b, "epsilon", [1, 4, 4], 2);
            using var x = b.Upload(TestData.Normal(32, 3), new Shape(2, 1, 4, 4));
            DiffusersScheduler.FromConfig(config).Sample(model, x, 8);
            return x.ToArray();
        }
        Close.Identical(Run(plain), Run(extra), "PNDM with other classes' keys");
    }
}
