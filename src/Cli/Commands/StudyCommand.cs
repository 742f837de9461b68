using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using DiffusionKernels.Cli.Images;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Medical.Quality;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk study</c>: the quality-vs-NFE table solver research wants. Every sampler × step count starts from the same
/// x_T; each run's samples are scored against real data (head phantoms, or exact draws for a gmm: model) beside the
/// noise and real-vs-real baselines, and deterministic solvers also get their distance to the probability-flow ODE
/// solution (adaptive RK45 at a tight tolerance from the same x_T).
/// </summary>
internal static class StudyCommand
{
    /// <summary>Largest step count accepted.</summary>
    public const int MaxSteps = 100_000;

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = $"A diffusers UNet2DModel folder or gmm:spec.json (default: the bundled {SampleCommand.BundledModel})" };
        var samplers = new Option<string>("--samplers") { Description = "Comma-separated solvers", DefaultValueFactory = _ => "euler,heun,dpmpp_2m,unipc_bh2,dpmpp_2m_sde,ddpm" };
        var steps = new Option<string>("--steps") { Description = "Comma-separated step counts", DefaultValueFactory = _ => "5,10,20,50" };
        var count = new Option<int>("--num-samples") { Description = "Samples per run", DefaultValueFactory = _ => 64 };
        var batch = new Option<int>("--batch-size") { Description = "Samples per network call", DefaultValueFactory = _ => 16 };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0, Description = "Noise seed (the same x_T for every run)" };
        var grid = new Option<string>("--sigmas") { Description = "karras, exponential or discrete", DefaultValueFactory = _ => "karras" };
        var references = new Option<int>("--reference-count") { Description = "Real images per reference set", DefaultValueFactory = _ => 512 };
        var odeTolerance = new Option<double>("--ode-tolerance") { Description = "rtol = atol of the RK45 reference solution (0 = skip it)", DefaultValueFactory = _ => 1e-4 };
        var output = new Option<string>("--output") { Description = "Folder for study.md, study.csv and quality_vs_nfe.png", DefaultValueFactory = _ => "study" };
        var force = new Option<bool>("--force") { Description = "Replace an existing output folder that dk wrote" };
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var solverSettings = new SolverSettingOptions();
        var json = JsonSummary.Option();
        var command = new Command("study", "Sample quality against NFE for several solvers (table and plot)")
            { model, samplers, steps, count, batch, seed, grid, references, odeTolerance, output, force, device, precision, json };
        foreach (var option in solverSettings.Options) command.Options.Add(option);
        command.SetAction(r => JsonSummary.Run("study", r.GetValue(json), () => Run(r.GetValue(model), r.GetValue(samplers)!, r.GetValue(steps)!, r.GetValue(count), r.GetValue(batch), r.GetValue(seed),
            r.GetValue(grid)!, r.GetValue(references), r.GetValue(odeTolerance), r.GetValue(output)!, r.GetValue(force), r.GetValue(device)!, solverSettings.Given(r), r.GetValue(precision)!)));
        return command;
    }

    private sealed record Row(string Sampler, int Steps, int Nfe, QualityScores Scores, double? OdeError, double Seconds);

    private static int Run(string? modelPath, string samplerList, string stepList, int count, int batch, ulong seed, string grid, int referenceCount,
        double odeTolerance, string outputPath, bool force, string deviceName, IReadOnlyList<SolverSettingValue> solverSettings, string precision = "fp32")
    {
        var solvers = samplerList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(SamplerRegistry.Get).ToList();
        if (solvers.Count == 0) throw new ArgumentException("--samplers: give at least one sampler");
        solvers = SolverSettingOptions.ApplyWhereTaken(solvers, solverSettings);
        var stepCounts = stepList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, out var n) && n >= 1 && n <= MaxSteps ? n : throw new ArgumentException($"--steps: '{s}' is not a step count in [1, {MaxSteps}]")).ToList();
        if (stepCounts.Count == 0) throw new ArgumentException("--steps: give at least one step count");
        CommonOptions.AtLeast("--num-samples", count, 2);
        CommonOptions.AtLeast("--reference-count", referenceCount, 2);
        // 0 skips the reference; below 1e-12 the adaptive solver would take steps without end in float32.
        if (!(odeTolerance == 0 || (odeTolerance >= 1e-12 && odeTolerance <= 1)))
            throw new ArgumentException($"--ode-tolerance must be 0 (no reference) or in [1e-12, 1], found {odeTolerance}");
        var modelSource = modelPath ?? SampleCommand.FindBundledModel();
        var output = OutputFolder.Check(outputPath, force, CommonOptions.ModelPaths(modelSource));

        using var backend = CommonOptions.CreateBackend(deviceName, precision);
        using var cancel = ConsoleCancellation.Install();
        using var model = DiffusionModel.Open(modelSource, backend, Math.Min(CommonOptions.AtLeast("--batch-size", batch, 1), count));
        var shape = model.SampleShape;
        if (shape.Length != 3 || shape[0] != 1 || shape[1] != shape[2])
            throw new ArgumentException($"dk study scores single-channel square images; {model.Source} makes {Shape.Format(shape)}");
        int size = shape[1];
        if (size < SampleQuality.SlicedSize)
            throw new ArgumentException($"dk study scores images of at least {SampleQuality.SlicedSize}×{SampleQuality.SlicedSize}; {model.Source} makes {size}×{size}");
        // Checked before any work: each run's samples, and the two reference sets.
        MemoryBudget.HostArray($"--num-samples {count} samples of {Shape.Format(shape)}", MemoryBudget.Elements("--num-samples", count, model.SampleLength));
        string references = $"--reference-count {referenceCount} images of {size}×{size}";
        MemoryBudget.HostArray(references, MemoryBudget.Elements(references, referenceCount, size, size));
        MemoryBudget.EnsureHost(references, MemoryBudget.Elements(references, 2, referenceCount, size, size, sizeof(float)));
        var (toUnit, real, second) = References(model, referenceCount, size);

        var baseOptions = new SamplerOptions { Seed = seed, Cancellation = cancel.Token };
        float[]? odeSolution = null;
        if (odeTolerance > 0)
        {
            Console.WriteLine($"reference: probability-flow ODE by rk45 at rtol = atol = {odeTolerance:G2}…");
            odeSolution = SampleRunner.Draw(model, new DormandPrince45 { Rtol = odeTolerance, Atol = odeTolerance }, model.Sigmas(grid, 2), count, baseOptions);
        }
        var rows = new List<Row>();
        int totalSteps = solvers.Count * stepCounts.Sum() * ((count + model.Batch - 1) / model.Batch);
        StepProgress.Run("study", totalSteps, report =>
        {
            foreach (var solver in solvers)
                foreach (var steps in stepCounts)
                {
                    int nfe0 = model.Denoiser.Evaluations;
                    var clock = Stopwatch.StartNew();
                    var samples = SampleRunner.Draw(model, solver, model.Sigmas(grid, steps), count, baseOptions, progress: report);
                    double seconds = clock.Elapsed.TotalSeconds;
                    int nfe = (model.Denoiser.Evaluations - nfe0) / ((count + model.Batch - 1) / model.Batch);
                    double? odeError = odeSolution is not null && !solver.Stochastic ? Rms(samples, odeSolution) : null;
                    rows.Add(new Row(solver.Name, steps, nfe, SampleQuality.Compare(samples.Select(toUnit).ToArray(), real, size), odeError, seconds));
                }
            return 0;
        });

        var noiseScores = SampleQuality.Compare(SampleQuality.UniformNoise(count * size * size), real, size);
        var realScores = SampleQuality.Compare(second, real, size);
        var table = Table(rows, noiseScores, realScores);
        Console.WriteLine();
        Console.WriteLine($"{model.Source} on {backend.Name}: {count} samples per run, seed {seed}, {grid} σ grid, {referenceCount} real images per reference set");
        Console.WriteLine(table);
        OutputFolder.Write(output, temp =>
        {
            AtomicText(Path.Combine(temp, "study.md"), table);
            AtomicText(Path.Combine(temp, "study.csv"), Csv(rows));
            var series = rows.GroupBy(r => r.Sampler).Select(g => new PlotSeries(g.Key, g.Select(r => ((double)r.Nfe, r.Scores.SlicedWasserstein)).ToList())).ToList();
            LinePlot.SaveLogLog(Path.Combine(temp, "quality_vs_nfe.png"), "sample quality vs NFE", "NFE per sample", "sliced W",
                series, [new PlotLevel("real vs real", realScores.SlicedWasserstein), new PlotLevel("noise", noiseScores.SlicedWasserstein)]);
        });
        Console.WriteLine($"wrote {output}");
        if (JsonSummary.Recording)
        {
            JsonSummary.Set("device", backend.Name);
            JsonSummary.Set("output", Path.GetFullPath(output));
            foreach (var (key, value) in new (string, object?)[]
            {
                ("model", modelSource), ("samplers", solvers.Select(s => s.Name)), ("steps", stepCounts), ("num_samples", count), ("batch_size", model.Batch),
                ("seed", seed), ("sigmas", grid), ("reference_count", referenceCount), ("ode_tolerance", odeTolerance),
            })
                JsonSummary.Setting(key, value);
            JsonSummary.Timing("runs_seconds", rows.Sum(r => r.Seconds));
            JsonSummary.Metric("runs", new System.Text.Json.Nodes.JsonArray([.. rows.Select(r => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
            {
                ["sampler"] = r.Sampler,
                ["steps"] = r.Steps,
                ["nfe"] = r.Nfe,
                ["scores"] = EvalCommand.Scores(r.Scores),
                ["ode_rms_error"] = JsonSummary.Node(r.OdeError),
                ["seconds"] = r.Seconds,
            })]));
            JsonSummary.Metric("noise_baseline", EvalCommand.Scores(noiseScores));
            JsonSummary.Metric("real_vs_real", EvalCommand.Scores(realScores));
            JsonSummary.FilesUnder(output);
        }
        return 0;
    }

    /// <summary>The map of samples to [0, 1] and two independent reference sets in that range.</summary>
    private static (Func<float, float> ToUnit, float[] Real, float[] Second) References(DiffusionModel model, int n, int size)
    {
        if (model.RawDenoiser is GaussianMixtureDenoiser gmm)
        {
            // Exact draws from the mixture, mapped with the samples by one affine map that puts them in [0, 1].
            var a = gmm.SampleData(n, 11);
            var b = gmm.SampleData(n, 12);
            float lo = Math.Min(a.Min(), b.Min()), hi = Math.Max(a.Max(), b.Max());
            float Unit(float v) => (v - lo) / Math.Max(1e-6f, hi - lo);
            return (Unit, a.Select(Unit).ToArray(), b.Select(Unit).ToArray());
        }
        return (v => (v + 1) / 2,
            HeadPhantom.GenerateBatch(n, size, 0, false, EvalCommand.ReferenceIndex).Images,
            HeadPhantom.GenerateBatch(n, size, 0, false, EvalCommand.ReferenceIndex + n).Images);
    }

    private static double Rms(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (a[i] - (double)b[i]) * (a[i] - (double)b[i]);
        return Math.Sqrt(s / a.Length);
    }

    private static string Table(List<Row> rows, QualityScores noise, QualityScores real)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| sampler | steps | NFE | sliced W | histogram W1 | spectrum | ODE RMS error | seconds |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Sampler} | {r.Steps} | {r.Nfe} | {r.Scores.SlicedWasserstein:F4} | {r.Scores.HistogramW1:F4} | {r.Scores.SpectrumDistance:F4} | {(r.OdeError is { } e ? e.ToString("G3", CultureInfo.InvariantCulture) : "–")} | {r.Seconds:F2} |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| *noise baseline* | | | {noise.SlicedWasserstein:F4} | {noise.HistogramW1:F4} | {noise.SpectrumDistance:F4} | | |"));
        sb.Append(string.Create(CultureInfo.InvariantCulture, $"| *real vs real* | | | {real.SlicedWasserstein:F4} | {real.HistogramW1:F4} | {real.SpectrumDistance:F4} | | |"));
        return sb.ToString();
    }

    private static string Csv(List<Row> rows)
    {
        var sb = new StringBuilder("sampler,steps,nfe,sliced_w,histogram_w1,spectrum,ode_rms_error,seconds\n");
        foreach (var r in rows)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Sampler},{r.Steps},{r.Nfe},{r.Scores.SlicedWasserstein:R},{r.Scores.HistogramW1:R},{r.Scores.SpectrumDistance:R},{(r.OdeError is { } e ? e.ToString("R", CultureInfo.InvariantCulture) : "")},{r.Seconds:F3}"));
        return sb.ToString();
    }

    private static void AtomicText(string path, string text) =>
        Runtime.IO.AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));
}
