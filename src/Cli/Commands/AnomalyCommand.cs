using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk anomaly</c>: AnoDDPM anomaly maps (Gaussian noise) of images [N, 1, H, W] in [0, 1]: noise to step t, denoise
/// back, |x − x̂| smoothed, thresholded at a percentile; with ground-truth masks, pixel AUROC and Dice.
/// </summary>
internal static class AnomalyCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = $"A diffusers UNet2DModel folder trained on healthy images (default: the bundled {SampleCommand.BundledModel})" };
        var input = new Option<string>("--input") { Description = "Images [N, 1, H, W] in [0, 1] (.npy)", Required = true };
        var masks = new Option<string?>("--masks") { Description = "Ground-truth 0/1 anomaly masks [N, 1, H, W] (.npy): prints AUROC and Dice" };
        var t = new Option<int>("--t") { Description = "Training step to noise to (AnoDDPM's t; σ(t) from the model's schedule)", DefaultValueFactory = _ => 250 };
        var sampler = new Option<string>("--sampler") { Description = "Solver for the way back (see dk samplers)", DefaultValueFactory = _ => "ddpm" };
        var steps = new Option<int>("--steps") { Description = "Solver steps from σ(t) to 0", DefaultValueFactory = _ => 20 };
        var smoothing = new Option<double>("--smoothing") { Description = "Gaussian smoothing of the map, std in pixels (0: none)", DefaultValueFactory = _ => 1.0 };
        var percentile = new Option<double>("--percentile") { Description = "Segmentation threshold: this percentile of all map values (unless --threshold)", DefaultValueFactory = _ => 95 };
        var threshold = new Option<double?>("--threshold") { Description = "Segmentation threshold on the map values (e.g. one chosen on validation images by dk medical-eval)" };
        var seed = new Option<ulong>("--seed") { Description = "Noise seed", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch-size") { Description = "Images per network call", DefaultValueFactory = _ => 8 };
        var output = new Option<string>("--output") { Description = "Output folder (map.npy, recon.npy, segmentation.npy, PNGs)", DefaultValueFactory = _ => "anomaly" };
        var force = new Option<bool>("--force") { Description = "Replace an existing output folder" };
        var allowNonFinite = CommonOptions.AllowNonFinite();
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var command = new Command("anomaly", "Anomaly maps by noising and denoising with a model of healthy images (AnoDDPM, Gaussian noise)")
            { model, input, masks, t, sampler, steps, smoothing, percentile, threshold, seed, batch, output, force, allowNonFinite, device, precision };
        command.SetAction(r => Run(new Request(r.GetValue(model), r.GetValue(input)!, r.GetValue(masks), r.GetValue(t), r.GetValue(sampler)!, r.GetValue(steps),
            r.GetValue(smoothing), r.GetValue(percentile), r.GetValue(threshold), r.GetValue(seed), r.GetValue(batch), r.GetValue(output)!, r.GetValue(force), r.GetValue(device)!,
            r.GetValue(allowNonFinite), r.GetValue(precision)!)));
        return command;
    }

    public sealed record Request(string? Model, string Input, string? Masks, int T, string Sampler, int Steps, double Smoothing, double Percentile, double? Threshold,
        ulong Seed, int Batch, string Output, bool Force, string Device, bool AllowNonFinite = false, string Precision = "fp32");

    public static int Run(Request q)
    {
        var solver = SamplerRegistry.Get(q.Sampler);
        MedicalInputs.InRange("--steps", q.Steps, 1, 100_000);
        MedicalInputs.InRange("--batch-size", q.Batch, 1, 4096);
        MedicalInputs.InRange("--t", q.T, 1, 1_000_000);
        MedicalInputs.InRange("--smoothing", q.Smoothing, 0, 1000);
        if (!(q.Percentile > 0 && q.Percentile < 100)) throw new ArgumentException($"--percentile must be in (0, 100), found {q.Percentile}");
        if (q.Threshold is { } th && !double.IsFinite(th)) throw new ArgumentException($"--threshold must be a finite number, found {th}");
        var modelPath = q.Model ?? SampleCommand.FindBundledModel();
        var output = OutputFolder.Check(q.Output, q.Force, [.. CommonOptions.ModelPaths(modelPath), q.Input, q.Masks]);

        using var backend = CommonOptions.CreateBackend(q.Device, q.Precision);
        using var cancel = ConsoleCancellation.Install();
        int count = MedicalInputs.Count(q.Input);
        using var model = DiffusionModel.Open(modelPath, backend, Math.Min(q.Batch, count));
        var schedule = model.Schedule.CreateSchedule();
        if (q.T >= schedule.TrainTimesteps) throw new ArgumentException($"--t must be in [1, {schedule.TrainTimesteps - 1}], found {q.T}");
        // Held at once: the images in both units, the reconstructions in both units, the map and the segmentation.
        MedicalInputs.EnsureResultsFit($"anomaly maps of {count} images of {Shape.Format(model.SampleShape)}", count, model.SampleShape, 7);
        (var images, count) = MedicalInputs.Images(q.Input, model.SampleShape, allowNonFinite: q.AllowNonFinite);
        int c = model.SampleShape[0], h = model.SampleShape[1], w = model.SampleShape[2];
        float[]? truth = null;
        if (q.Masks is not null)
        {
            var a = Npy.Read(File.Exists(q.Masks) ? q.Masks : throw new FileNotFoundException($"--masks: {q.Masks} does not exist"));
            if (!a.Shape.SequenceEqual(new[] { count, 1, h, w }))
                throw new ShapeMismatchException($"--masks {q.Masks}: expected [{count}, 1, {h}, {w}] (one mask per input image), found {Shape.Format(a.Shape)}");
            truth = MedicalInputs.Masks(q.Masks, count, h, w, "--masks");
        }
        double sigma = AnomalyDetector.SigmaAt(schedule, q.T);
        var options = new SamplerOptions { Seed = q.Seed, Cancellation = cancel.Token, CheckFinite = !q.AllowNonFinite };
        var clock = Stopwatch.StartNew();
        var recon = StepProgress.Run("denoising", (count + model.Batch - 1) / model.Batch * q.Steps,
            p => DiffusionPrior.AnomalyReconstruct(model, MedicalInputs.ToModel(images), count, sigma, q.Steps, solver, options, p));
        backend.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;
        recon = MedicalInputs.FromModel(recon);
        var map = AnomalyDetector.Map(images, recon, count, c, h, w, q.Smoothing);
        var segmentation = q.Threshold is { } fixedThreshold ? Dice.Threshold(map, (float)fixedThreshold) : AnomalyDetector.Segment(map, q.Percentile);
        MedicalInputs.RequireFiniteResults(q.AllowNonFinite, ("recon.npy", recon), ("map.npy", map));
        int[] shape = [count, c, h, w], mapShape = [count, 1, h, w];
        float top = Math.Max(1e-6f, AnomalyDetector.Percentile(map, 99.9));
        OutputFolder.Write(output, temp =>
        {
            Npy.Write(Path.Combine(temp, "map.npy"), map, mapShape);
            Npy.Write(Path.Combine(temp, "recon.npy"), recon, shape);
            Npy.Write(Path.Combine(temp, "segmentation.npy"), segmentation, mapShape);
            MedicalInputs.SavePanels(temp, "input", images, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "recon", recon, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "map", map, mapShape, 0, top);
            MedicalInputs.SavePanels(temp, "segmentation", segmentation, mapShape, 0, 1);
        });
        Console.WriteLine($"device {backend.Name} | t {q.T} (σ {sigma:G4}), sampler {solver.Name}, {q.Steps} steps | {count} images in {seconds:F2} s");
        if (truth is not null && truth.Contains(1f))
        {
            var scores = AnomalyMetrics.Evaluate(map, truth, count, h * w);
            string rule = q.Threshold is { } chosen ? $"threshold {chosen:G4}" : $"threshold: {q.Percentile}th percentile of the maps";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"pixel AUROC {scores.PixelAuroc:F4} | AP {scores.AveragePrecision:F4} | best Dice {scores.BestDice:F4} (at {scores.BestThreshold:G4}) | Dice {Dice.Compute(truth, segmentation):F4} ({rule})"));
            Console.WriteLine(double.IsNaN(scores.ImageAuroc)
                ? "image AUROC: n/a (needs images with and without lesions)"
                : string.Create(CultureInfo.InvariantCulture, $"image AUROC {scores.ImageAuroc:F4} (image score: the map maximum)"));
        }
        else if (truth is not null) Console.WriteLine("the masks mark no anomaly: no pixel metrics");
        Console.WriteLine($"wrote {output}");
        return 0;
    }
}
