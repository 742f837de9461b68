using System.CommandLine;
using System.Diagnostics;
using DiffusionKernels.Cli.Images;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk sample</c>: draws samples from a diffusers U-Net folder or a Gaussian-mixture spec (<c>gmm:FILE</c>) and writes
/// samples.npy plus PNGs into a fresh output folder (built aside and moved into place, so an interrupted run leaves nothing).
/// </summary>
public static class SampleCommand
{
    /// <summary>Where the bundled model lives, relative to the repository root or the working directory.</summary>
    public const string BundledModel = "models/phantom64";

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = $"A diffusers UNet2DModel folder, or gmm:spec.json (default: the bundled {BundledModel})" };
        var sampler = new Option<string>("--sampler") { Description = "Solver (see dk samplers)", DefaultValueFactory = _ => "dpmpp_2m" };
        var steps = new Option<int>("--steps") { Description = "Solver steps", DefaultValueFactory = _ => 20 };
        var seed = new Option<ulong>("--seed") { Description = "Noise seed; sample n of a seed is the same for any batch size", DefaultValueFactory = _ => 0 };
        var count = new Option<int>("--num-samples") { Description = "Samples to draw", DefaultValueFactory = _ => 16 };
        var batch = new Option<int>("--batch-size") { Description = "Samples per network call", DefaultValueFactory = _ => 16 };
        var eta = new Option<double?>("--eta") { Description = "Ancestral noise scale (stochastic samplers)" };
        var grid = new Option<string>("--sigmas") { Description = "Noise-level grid: karras, exponential, or discrete (the training timesteps, spaced as the model's timestep_spacing)", DefaultValueFactory = _ => "karras" };
        var betaSchedule = new Option<string?>("--beta-schedule") { Description = "Override the model's beta_schedule" };
        var prediction = new Option<string?>("--prediction-type") { Description = "Override the model's prediction_type (epsilon, v_prediction, sample)" };
        var clip = new Option<bool?>("--clip-sample") { Description = "Clamp x̂₀ to the model's clip_sample_range (default: the model's scheduler_config.json)" };
        var churn = new Option<double>("--s-churn") { Description = "Stochastic churn for heun (Karras et al. 2022)", DefaultValueFactory = _ => 0 };
        var init = new Option<string?>("--init") { Description = "Start from this x_T (.npy, [N, ...] standard normal noise) instead of drawing it" };
        var output = new Option<string>("--output") { Description = "Output folder (samples.npy, grid.png, sample_NNNN.png)", DefaultValueFactory = _ => "samples" };
        var force = new Option<bool>("--force") { Description = "Replace an existing output folder" };
        var device = CommonOptions.Device();
        var command = new Command("sample", "Draw samples with a diffusion model")
            { model, sampler, steps, seed, count, batch, eta, grid, betaSchedule, prediction, clip, churn, init, output, force, device };
        command.SetAction(r => Run(new SampleRequest(
            r.GetValue(model), r.GetValue(sampler)!, r.GetValue(steps), r.GetValue(seed), r.GetValue(count), r.GetValue(batch), r.GetValue(eta),
            r.GetValue(grid)!, r.GetValue(betaSchedule), r.GetValue(prediction), r.GetValue(clip), r.GetValue(churn), r.GetValue(init), r.GetValue(output)!,
            r.GetValue(force), r.GetValue(device)!)));
        return command;
    }

    public sealed record SampleRequest(string? Model, string Sampler, int Steps, ulong Seed, int Count, int Batch, double? Eta, string Sigmas,
        string? BetaSchedule, string? Prediction, bool? ClipSample, double SChurn, string? Init, string Output, bool Force, string Device);

    public static int Run(SampleRequest q)
    {
        var solver = SamplerRegistry.Get(q.Sampler);
        CommonOptions.AtLeast("--steps", q.Steps, 1);
        CommonOptions.AtLeast("--num-samples", q.Count, 1);
        int batchSize = Math.Min(CommonOptions.AtLeast("--batch-size", q.Batch, 1), q.Count);
        if (q.SChurn != 0 && solver is not Heun) throw new ArgumentException($"--s-churn applies to heun only, not '{solver.Name}'");
        if (q.SChurn < 0) throw new ArgumentException($"--s-churn must be ≥ 0, found {q.SChurn}");
        if (q.Eta is not null && !solver.TakesEta) throw new ArgumentException($"--eta: sampler '{solver.Name}' does not take η");
        if (q.Sigmas is not ("karras" or "exponential" or "discrete")) throw new ArgumentException($"--sigmas must be karras, exponential or discrete, found '{q.Sigmas}'");
        var output = Path.GetFullPath(q.Output);
        if (Directory.Exists(output) && !q.Force) throw new IOException($"output folder {output} exists; pass --force to replace it");
        var parent = Path.GetDirectoryName(output)!;
        if (!Directory.Exists(parent)) throw new DirectoryNotFoundException($"the output folder's parent does not exist: {parent}");
        var modelPath = q.Model ?? FindBundledModel();
        var initNoise = q.Init is null ? null : Npy.Read(q.Init);

        using var backend = Devices.Create(q.Device);
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        var temp = Path.Combine(parent, $".{Path.GetFileName(output)}.partial-{Environment.ProcessId}");
        try
        {
            using var model = OpenModel(modelPath, q, backend, batchSize);
            IDenoiser d = model.Schedule.Wrap(model.Denoiser, q.ClipSample);
            int per = d.SampleShape.Aggregate(1, (a, b) => a * b);
            if (initNoise is not null && initNoise.AsFloat32().Length != (long)q.Count * per)
                throw new ShapeMismatchException($"{q.Init}: --init must hold {q.Count} samples of {Shape.Format(d.SampleShape)}, found {Shape.Format(initNoise.Shape)}");
            var sigmas = q.Sigmas switch
            {
                "karras" => SigmaGrids.Karras(q.Steps, d.SigmaMin, d.SigmaMax),
                "exponential" => SigmaGrids.Exponential(q.Steps, d.SigmaMin, d.SigmaMax),
                _ => model.Schedule.CreateSchedule().InferenceSigmas(q.Steps, model.Schedule.TimestepSpacing, model.Schedule.StepsOffset, model.Schedule.FinalSigmasType),
            };
            var samples = new float[(long)q.Count * per];
            var clock = Stopwatch.StartNew();
            int evaluations0 = d.Evaluations;
            for (int start = 0; start < q.Count; start += batchSize)
            {
                int n = Math.Min(batchSize, q.Count - start);
                using var x = backend.Allocate(new Shape([batchSize, .. d.SampleShape]));
                if (initNoise is not null) backend.CopyFromHost(Pad(initNoise.AsFloat32().AsSpan(start * per, n * per), batchSize * per), x);
                else backend.RandomNormal(x, q.Seed, start);
                backend.Scale(x, (float)sigmas[0], x);
                var options = new SamplerOptions
                {
                    Seed = q.Seed, FirstSampleIndex = start, Eta = q.Eta, SChurn = q.SChurn, Cancellation = cancel.Token,
                    Callback = s => Progress(s, start, q.Count, clock),
                };
                using (var ctx = new SamplerContext(d, x, options)) solver.Sample(x, sigmas, ctx);
                x.ToArray().AsSpan(0, n * per).CopyTo(samples.AsSpan(start * per));
            }
            backend.Synchronize();
            double seconds = clock.Elapsed.TotalSeconds;
            Directory.CreateDirectory(temp);
            int[] shape = [q.Count, .. d.SampleShape];
            Npy.Write(Path.Combine(temp, "samples.npy"), samples, shape);
            if (d.SampleShape.Length == 3 && d.SampleShape[1] >= 8 && d.SampleShape[2] >= 8)
            {
                ImageWriter.SaveGrid(Path.Combine(temp, "grid.png"), samples, shape, -1f, 1f);
                for (int k = 0; k < q.Count; k++) ImageWriter.SavePng(Path.Combine(temp, $"sample_{k:D4}.png"), samples, shape, k, -1f, 1f);
            }
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
            Directory.Move(temp, output);
            Console.WriteLine($"device {backend.Name} | sampler {solver.Name}, {q.Steps} steps, NFE {d.Evaluations - evaluations0} | {q.Count} samples in {seconds:F2} s, {q.Count / seconds:F2} images/s");
            Console.WriteLine($"wrote {output}");
            return 0;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("dk: interrupted; nothing was written");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    private static float[] Pad(ReadOnlySpan<float> data, int length)
    {
        var a = new float[length];
        data.CopyTo(a);
        return a;
    }

    private static void Progress(StepInfo s, int start, int total, Stopwatch clock)
    {
        if (s.Step + 1 != s.Steps && (s.Step + 1) % Math.Max(1, s.Steps / 4) != 0) return;
        Console.WriteLine($"  samples {start + 1}…: step {s.Step + 1}/{s.Steps} σ {s.NextSigma:G3}, NFE {s.Evaluations}, {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static string FindBundledModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, BundledModel))) return Path.Combine(dir.FullName, BundledModel);
        if (Directory.Exists(BundledModel)) return BundledModel;
        throw new DirectoryNotFoundException($"the bundled model ({BundledModel}) was not found; pass --model DIR or --model gmm:spec.json");
    }

    /// <summary>A denoiser and whatever it owns.</summary>
    private sealed class OpenedModel(IDenoiser denoiser, SchedulerConfig schedule, params IDisposable[] owned) : IDisposable
    {
        public IDenoiser Denoiser => denoiser;
        public SchedulerConfig Schedule => schedule;
        public void Dispose()
        {
            foreach (var o in owned) o.Dispose();
        }
    }

    private static OpenedModel OpenModel(string path, SampleRequest q, Backend backend, int batch)
    {
        if (path.StartsWith("gmm:", StringComparison.Ordinal))
        {
            var (gmm, schedule) = GaussianMixtureSpec.Load(path[4..], backend);
            return new OpenedModel(gmm, schedule, gmm);
        }
        var unet = CommonOptions.LoadModel(path, backend);
        try
        {
            var schedulerFile = Path.Combine(path, "scheduler_config.json");
            var config = File.Exists(schedulerFile) ? SchedulerConfig.Load(schedulerFile) : new SchedulerConfig();
            config = config with { BetaSchedule = q.BetaSchedule ?? config.BetaSchedule, PredictionType = q.Prediction ?? config.PredictionType };
            config.Validate("command line");
            if (unet.Config.IsClassConditional) throw new ArgumentException($"{path}: class-conditional sampling (labels, guidance) is not supported by dk sample yet");
            int size = unet.Config.SampleSize ?? throw new ArgumentException($"{path}: config.json has no sample_size");
            var plan = unet.Compile(batch, size, size);
            var denoiser = new UNetDenoiser(plan, config.CreateSchedule(), config.Prediction, [unet.Config.InChannels, size, size]);
            return new OpenedModel(denoiser, config, denoiser, unet);
        }
        catch
        {
            unet.Dispose();
            throw;
        }
    }
}
