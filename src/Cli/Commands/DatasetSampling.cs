using System.Diagnostics;
using System.Globalization;
using DiffusionKernels.Cli.Images;
using DiffusionKernels.Samplers.Datasets;
using DiffusionKernels.Samplers.Sampling;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk sample</c> with a dataset option (<see cref="DatasetOptions"/>): the samples go straight into chunk files of the
/// output folder as they are drawn (<see cref="DatasetWriter"/>), so memory is one chunk whatever --num-samples is, a
/// killed run keeps its finished chunks and --resume continues it. The folder carries dk's marker from its creation
/// ("writing" until the range is complete), so --force rules are those of every output folder.
/// </summary>
internal static class DatasetSampling
{
    /// <summary>Draws samples [first, first + count) of the run's seed, reporting progress.</summary>
    public delegate float[] Draw(long first, int count, Action<RunProgress> progress);

    /// <summary>
    /// The checks before any work: the options agree, and <paramref name="q"/>'s output may be written (a fresh folder,
    /// one dk wrote with --force, or with --resume a dataset folder dk wrote). Returns the output's full path.
    /// </summary>
    public static string CheckOutput(SampleCommand.SampleRequest q, DatasetRequest d, string?[] inputs)
    {
        if (d.Resume && q.Force) throw new ArgumentException("--resume continues the dataset in --output and --force replaces it; give one of them");
        if (d.ChunkSize is { } size) CommonOptions.AtLeast("--chunk-size", size, 1);
        if (q.Init is not null || q.InitImage is not null)
            throw new ArgumentException("--init and --init-image hold every sample in memory; a dataset (--chunk-size, --resume, --shard, --png) draws its noise from --seed");
        if (d.Shard is not null)
        {
            ParseShard(d.Shard);
            // Shards are siblings in a dataset folder that the first worker to start creates (workers start in any order).
            var parent = Path.GetDirectoryName(Path.GetFullPath(q.Output));
            if (parent is not null) Directory.CreateDirectory(parent);
        }
        var output = OutputFolder.Check(q.Output, q.Force || d.Resume, inputs);
        if (d.Resume && Directory.Exists(output) && !File.Exists(Path.Combine(output, DatasetManifest.FileName))
            && Directory.EnumerateFileSystemEntries(output).Any(e => Path.GetFileName(e) != OutputMarker.FileName))
            throw new IOException($"--resume: {output} holds no {DatasetManifest.FileName}, so it is not a dataset to continue; choose another --output");
        return output;
    }

    /// <summary>Writes (or continues) the dataset; returns the exit code (130 after Ctrl+C, with what to run to continue).</summary>
    public static int Run(SampleCommand.SampleRequest q, DatasetRequest d, string output, string modelPath, DiffusionModel model, string samplerName,
        bool explicitSolver, Draw draw, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(d);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(draw);
        var shape = model.SampleShape;
        if (d.Png && !(shape.Length == 3 && shape[1] >= 1 && shape[2] >= 1))
            throw new ArgumentException($"--png writes images of [C, H, W] samples; {modelPath} draws samples of {Runtime.Shape.Format(shape)}");
        var shard = d.Shard is null ? null : ParseShard(d.Shard);
        var spec = new DatasetSpec(ModelFingerprint.Compute(modelPath), q.Seed, q.Count, shape, d.ChunkSize ?? DatasetRequest.DefaultChunkSize, d.Png,
            Settings(q, samplerName, explicitSolver, model.Backend.Name));

        DatasetWriter writer;
        bool resuming = d.Resume && File.Exists(Path.Combine(output, DatasetManifest.FileName));
        if (resuming)
        {
            writer = DatasetWriter.Resume(output, spec, shard);
            OutputMarker.Write(output, "writing");
        }
        else
        {
            // A fresh dataset: an existing folder here is dk's (checked), replaced under --force or empty under --resume.
            if (Directory.Exists(output)) StaleOutputs.DeleteTree(output);
            Directory.CreateDirectory(output);
            OutputMarker.Write(output, "writing");
            writer = DatasetWriter.Create(output, spec, shard);
        }
        AttachHalt(writer, cancel);

        var manifest = writer.Manifest;
        var (firstChunk, endChunk) = manifest.ChunkRange;
        var (firstSample, endSample) = manifest.SampleRange;
        Console.WriteLine($"dataset {output}: {(shard is null ? "" : $"shard {shard} = ")}samples {firstSample:N0} … {endSample - 1:N0} of {q.Count:N0} in chunks of {spec.ChunkSize:N0}"
                          + (resuming ? $", resuming with {manifest.Describe()} written and verified" : ""));
        if (firstChunk == endChunk)
            Console.WriteLine($"note: {q.Count:N0} samples make {spec.Layout.ChunkCount} chunk{(spec.Layout.ChunkCount == 1 ? "" : "s")}, so shard {shard} holds none; use a smaller --chunk-size to spread the work");
        int batch = Math.Min(q.Batch, q.Count);
        if (spec.ChunkSize % batch != 0)
            Console.WriteLine($"note: each chunk's last batch is part-filled (--chunk-size {spec.ChunkSize} is not a multiple of --batch-size {batch}); a multiple wastes no network calls");
        var progress = new DatasetProgress(Console.Out, endSample - firstSample, endChunk - firstChunk, manifest.Chunks.Sum(c => (long)c.Count), manifest.Chunks.Count);
        SaveImage? save = d.Png ? (path, samples, index) => ImageWriter.SavePng(path, samples, [samples.Length / model.SampleLength, .. shape], index, -1f, 1f) : null;
        try
        {
            writer.WriteAll((first, count) =>
            {
                var samples = draw(first, count, p => progress.Drawing(p.SamplesDone));
                if (!q.AllowNonFinite && samples.Any(v => !float.IsFinite(v)))
                    throw new Runtime.NumericalInstabilityException($"samples {first} … {first + count - 1} hold NaN or Inf; the chunks before them are kept");
                return samples;
            }, save, c =>
            {
                progress.Written(c.Count);
                // The chunk's arrays are garbage now. Left alone, the GC lets such large-object-heap arrays pile up to its
                // budget before compacting, so the peak would creep up with the run's length; one collection per chunk
                // (milliseconds, against seconds of sampling) keeps the peak at one chunk's worth for any --num-samples.
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            }, cancel);
        }
        catch (OperationCanceledException)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"dk: interrupted after {progress.Seconds:F1} s: {output} holds {writer.Manifest.Describe()}, each listed with its SHA-256 in {DatasetManifest.FileName}; the chunk in progress was dropped");
            Console.Error.WriteLine($"dk: to continue, run the same command with --resume: {ResumeCommand()}");
            return CliErrors.Interrupted;
        }
        OutputMarker.Write(output, "complete");
        double seconds = progress.Seconds;
        long drawn = progress.Done - manifest.Chunks.Sum(c => (long)c.Count);
        using var self = Process.GetCurrentProcess();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"device {model.Backend.Name} | sampler {samplerName}, {q.Steps} steps | {drawn:N0} samples drawn in {seconds:F2} s, {drawn / Math.Max(1e-9, seconds):F2} images/s | peak memory {self.PeakWorkingSet64 / (1 << 20):N0} MiB"));
        Console.WriteLine($"wrote {output} ({writer.Manifest.Describe()}, {DatasetManifest.FileName})");
        JsonSummary.Set("device", model.Backend.Name);
        JsonSummary.Set("output", Path.GetFullPath(output));
        JsonSummary.Setting("sampler", samplerName);
        JsonSummary.Setting("steps", q.Steps);
        JsonSummary.Timing("sampling_seconds", seconds);
        JsonSummary.Metric("samples_drawn", drawn);
        JsonSummary.Metric("images_per_second", drawn / Math.Max(1e-9, seconds));
        JsonSummary.FilesUnder(output);
        return CliErrors.Success;
    }

    /// <summary>The settings that fix the samples' bytes, as the manifest records them (the batch size does not: sample n is the same for any batch).</summary>
    public static SortedDictionary<string, string> Settings(SampleCommand.SampleRequest q, string samplerName, bool explicitSolver, string backendName)
    {
        ArgumentNullException.ThrowIfNull(q);
        static string Text(object? value, string absent) => value switch
        {
            null => absent,
            double v => v.ToString("R", CultureInfo.InvariantCulture),
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? absent,
        };
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["sampler"] = samplerName,
            ["steps"] = Text(q.Steps, ""),
            ["sigmas"] = explicitSolver ? q.Sigmas ?? "karras" : "scheduler",
            ["beta_schedule"] = Text(q.BetaSchedule, "model"),
            ["prediction_type"] = Text(q.Prediction, "model"),
            ["clip_sample"] = Text(q.ClipSample, "model"),
            ["class_label"] = Text(q.ClassLabel, "none"),
            ["guidance_scale"] = Text(q.Guidance, "none"),
            ["null_class"] = Text(q.NullClass, "none"),
            ["allow_nonfinite"] = Text(q.AllowNonFinite, ""),
            // Sample n is the same on every device of a kind; CPU and GPU arithmetic differ in the last bits.
            ["device_kind"] = backendName.Split(':')[0],
        };
        foreach (var s in q.SolverSettings) settings[$"solver.{s.Setting}"] = Text(s.Value, "");
        return settings;
    }

    private static ShardSpec ParseShard(string text)
    {
        try
        {
            return ShardSpec.Parse(text, Environment.GetEnvironmentVariable);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--shard: {e.Message}", e);
        }
    }

    /// <summary>
    /// For the kill tests only: when <see cref="OutputFolder.HaltVariable"/> names a phase of the writer ("chunk-K:images",
    /// "chunk-K:npy", "chunk-K:manifest"), the process reports it on stderr and waits there to be killed or interrupted.
    /// </summary>
    private static void AttachHalt(DatasetWriter writer, CancellationToken cancel)
    {
        if (Environment.GetEnvironmentVariable(OutputFolder.HaltVariable) is not { Length: > 0 } halt) return;
        writer.Phase = phase =>
        {
            if (phase != halt) return;
            Console.Error.WriteLine($"dk: halted at {phase}");
            Console.Error.Flush();
            cancel.WaitHandle.WaitOne();
            cancel.ThrowIfCancellationRequested();
        };
    }

    private static string ResumeCommand()
    {
        var args = Environment.GetCommandLineArgs().Skip(1).Select(a => a.Any(char.IsWhiteSpace) ? $"'{a}'" : a).ToList();
        if (args.Count > 0 && args[0].EndsWith(".dll", StringComparison.OrdinalIgnoreCase)) args.RemoveAt(0);
        if (!args.Contains("--resume")) args.Add("--resume");
        return "dk " + string.Join(' ', args);
    }
}
