using System.CommandLine;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Medical.Quality;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk eval</c>: how close generated images are to real phantoms, printed beside two baselines (pure noise, and a
/// second set of real phantoms) so the numbers mean something.
/// </summary>
internal static class EvalCommand
{
    /// <summary>Phantom indices used for evaluation references start here, far from any training set.</summary>
    public const long ReferenceIndex = 1_000_000_000;

    public static Command Create()
    {
        var samples = new Option<string>("--samples") { Description = "Generated images [N, 1, S, S] (.npy)", Required = true };
        var reference = new Option<string?>("--reference") { Description = "Real images [M, 1, S, S] in [0, 1] (.npy); default: fresh head phantoms" };
        var range = new Option<string>("--samples-range") { Description = "Value range of the samples, mapped to [0, 1]", DefaultValueFactory = _ => "-1,1" };
        var count = new Option<int>("--reference-count") { Description = "Phantoms per generated reference set", DefaultValueFactory = _ => 512 };
        var json = JsonSummary.Option();
        var command = new Command("eval", "Compare generated images with real phantoms (sliced Wasserstein, histogram W1, power spectrum)") { samples, reference, range, count, json };
        command.SetAction(r => JsonSummary.Run("eval", r.GetValue(json), () => Run(r.GetValue(samples)!, r.GetValue(reference), r.GetValue(range)!, r.GetValue(count))));
        return command;
    }

    private static int Run(string samplesPath, string? referencePath, string range, int referenceCount)
    {
        var (lo, hi) = ParseRange(range);
        int n = CommonOptions.AtLeast("--reference-count", referenceCount, 2);
        var s = Images("--samples", samplesPath, null);
        int size = s.Shape[2];
        var generated = s.AsFloat32().Select(v => (v - lo) / (hi - lo)).ToArray();
        // The generated reference (unless --reference is given) and the real-vs-real baseline: n fresh phantoms each.
        string what = $"--reference-count {n} phantoms of {size}×{size}";
        MemoryBudget.HostArray(what, MemoryBudget.Elements(what, n, size, size));
        MemoryBudget.EnsureHost(what, MemoryBudget.Elements(what, referencePath is null ? 2 : 1, n, size, size, sizeof(float)));
        var real = referencePath is not null ? Images("--reference", referencePath, size).AsFloat32() : HeadPhantom.GenerateBatch(n, size, 0, false, ReferenceIndex).Images;
        var second = HeadPhantom.GenerateBatch(n, size, 0, false, ReferenceIndex + n).Images;
        var noise = SampleQuality.UniformNoise(generated.Length);
        var scores = new[]
        {
            ("samples        ", SampleQuality.Compare(generated, real, size)),
            ("noise baseline ", SampleQuality.Compare(noise, real, size)),
            ("real vs real   ", SampleQuality.Compare(second, real, size)),
        };
        foreach (var (name, q) in scores)
            if (!double.IsFinite(q.SlicedWasserstein) || !double.IsFinite(q.HistogramW1) || !double.IsFinite(q.SpectrumDistance))
                throw new NumericalInstabilityException($"the {name.Trim()} scores are not finite ({q})");
        Console.WriteLine($"{s.Shape[0]} samples of {size}×{size} against {real.Length / (size * size)} real images:");
        foreach (var (name, q) in scores) Console.WriteLine($"  {name} {q}");
        JsonSummary.Set("device", "cpu");
        foreach (var (key, value) in new (string, object?)[]
        {
            ("samples", Path.GetFullPath(samplesPath)), ("reference", referencePath is null ? null : Path.GetFullPath(referencePath)), ("samples_range", new[] { lo, hi }),
            ("sample_count", s.Shape[0]), ("reference_count", real.Length / (size * size)), ("size", size),
        })
            JsonSummary.Setting(key, value);
        foreach (var (name, q) in scores) JsonSummary.Metric(name.Trim().Replace(' ', '_'), Scores(q));
        return 0;
    }

    /// <summary>Quality scores as a JSON object (also <c>dk study</c>'s).</summary>
    public static System.Text.Json.Nodes.JsonObject Scores(QualityScores q) => new()
    {
        ["sliced_w"] = JsonSummary.Node(q.SlicedWasserstein),
        ["histogram_w1"] = JsonSummary.Node(q.HistogramW1),
        ["spectrum"] = JsonSummary.Node(q.SpectrumDistance),
    };

    /// <summary>
    /// Reads [N, 1, S, S] images (N ≥ 1, S ≥ <see cref="SampleQuality.SlicedSize"/>, equal to <paramref name="size"/> when
    /// given) whose values are all finite; errors name the option and the file.
    /// </summary>
    private static NpyArray Images(string option, string path, int? size)
    {
        var a = Npy.Read(path);
        if (a.Shape.Length != 4 || a.Shape[1] != 1 || a.Shape[2] != a.Shape[3])
            throw new ArgumentException($"{option} {path}: expected [N, 1, S, S] single-channel square images, found {Shape.Format(a.Shape)}");
        if (a.Shape[0] < 1) throw new ArgumentException($"{option} {path}: the array holds no images ({Shape.Format(a.Shape)})");
        if (a.Shape[2] < SampleQuality.SlicedSize)
            throw new ArgumentException($"{option} {path}: images of {a.Shape[2]}×{a.Shape[3]} are smaller than the {SampleQuality.SlicedSize}×{SampleQuality.SlicedSize} the metrics compare");
        if (size is { } s && a.Shape[2] != s)
            throw new ShapeMismatchException($"{option} {path}: images of {a.Shape[2]}×{a.Shape[3]} do not match the samples' {s}×{s}");
        CommonOptions.RequireFinite($"{option} {path}", a.AsFloat32(), allow: false);
        return a;
    }

    public static (float Lo, float Hi) ParseRange(string text)
    {
        var parts = text.Split(',');
        if (parts.Length == 2 && float.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out var lo)
            && float.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var hi) && float.IsFinite(lo) && float.IsFinite(hi)
            && float.IsFinite(hi - lo) && hi > lo)
            return (lo, hi);
        throw new ArgumentException($"--samples-range must be 'lo,hi' with lo < hi, found '{text}'");
    }
}
