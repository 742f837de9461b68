using DiffusionKernels.Cli;

namespace DiffusionKernels.Tests.Datasets;

/// <summary>Helpers of the dataset tests: a small mixture model, dk sample arguments and folder comparisons.</summary>
public static class DatasetFolders
{
    /// <summary>An 8×8 single-channel two-component mixture: sampling is fast and the samples are images (for --png).</summary>
    public const string MixtureSpec = """{"shape": [1, 8, 8], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2]}""";

    /// <summary>
    /// dk sample arguments for <paramref name="numSamples"/> samples of the mixture at <paramref name="gmm"/>, plus
    /// <paramref name="extra"/> (an option given there replaces the default one).
    /// </summary>
    public static string[] SampleArgs(string gmm, string output, int numSamples, params string[] extra)
    {
        (string Flag, string Value)[] defaults =
            [("--model", "gmm:" + gmm), ("--sampler", "euler_ancestral"), ("--steps", "4"), ("--num-samples", $"{numSamples}"), ("--seed", "7"), ("--output", output), ("--device", "cpu")];
        return ["sample", .. defaults.Where(d => !extra.Contains(d.Flag)).SelectMany(d => new[] { d.Flag, d.Value }), .. extra];
    }

    /// <summary>Every file under <paramref name="folder"/> (dk's marker aside) by relative path, with its bytes.</summary>
    public static SortedDictionary<string, byte[]> Files(string folder) => new(
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != OutputMarker.FileName)
            .ToDictionary(f => Path.GetRelativePath(folder, f).Replace('\\', '/'), File.ReadAllBytes), StringComparer.Ordinal);

    /// <summary>Null when the two folders hold the same files with the same bytes; else what differs.</summary>
    public static string? Difference(string expected, string actual)
    {
        var a = Files(expected);
        var b = Files(actual);
        var missing = a.Keys.Except(b.Keys).ToList();
        var extra = b.Keys.Except(a.Keys).ToList();
        var changed = a.Keys.Intersect(b.Keys).Where(k => !a[k].AsSpan().SequenceEqual(b[k])).ToList();
        if (missing.Count + extra.Count + changed.Count == 0) return null;
        return $"missing [{string.Join(", ", missing)}], extra [{string.Join(", ", extra)}], different [{string.Join(", ", changed)}]";
    }
}
