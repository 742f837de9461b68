using System.CommandLine;
using DiffusionKernels.Samplers.Datasets;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk merge</c>: joins the shard folders of a dataset (<c>dk sample --shard I/N</c>) into one folder, byte for byte
/// the folder one unsharded run writes. The shards must be complete, written with the same settings, and cover every
/// chunk exactly once; every copied file is checked against its SHA-256. The result is written like every dk output
/// folder (built aside, put in place at once).
/// </summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var folders = new Argument<string[]>("folders") { Description = "The shard folders (dk sample --shard I/N), in any order", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output") { Description = "The merged dataset folder", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace an existing output folder that dk wrote" };
        var command = new Command("merge", "Join the shards of a dataset into one folder, checking they are complete, consistent and non-overlapping") { folders, output, force };
        command.SetAction(r => Run(r.GetValue(folders)!, r.GetValue(output)!, r.GetValue(force)));
        return command;
    }

    public static int Run(IReadOnlyList<string> folders, string output, bool force)
    {
        foreach (var folder in folders)
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"dk merge: {folder} is not a folder");
        var target = OutputFolder.Check(output, force, [.. folders]);
        // Everything is checked before anything is copied.
        var plan = DatasetMerger.Plan(folders);
        OutputFolder.Write(target, temp => DatasetMerger.Merge(folders, temp));
        Console.WriteLine($"merged {folders.Count} folder{(folders.Count == 1 ? "" : "s")}: {plan.Describe()} → {target}");
        return CliErrors.Success;
    }
}
