using System.CommandLine;
using DiffusionKernels.Cli.Images;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli.Commands;

/// <summary><c>dk phantoms</c>: synthetic head phantoms (and lesion masks) as .npy, with a preview grid.</summary>
internal static class PhantomsCommand
{
    /// <summary>Largest --size accepted (one phantom is size² floats).</summary>
    public const int MaxSize = 16384;

    public static Command Create()
    {
        var n = new Option<int>("--n") { Description = "Number of phantoms", DefaultValueFactory = _ => 16 };
        var size = new Option<int>("--size") { Description = "Height and width in pixels", DefaultValueFactory = _ => 64 };
        var seed = new Option<ulong>("--seed") { Description = "Seed (phantom k of a seed is always the same)", DefaultValueFactory = _ => 0 };
        var first = new Option<long>("--first-index") { Description = "Index of the first phantom (held-out sets use indices past the training set)", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output") { Description = "Images [N, 1, S, S] float32 in [0, 1] (.npy)", Required = true };
        var lesions = new Option<bool>("--lesions") { Description = "Add 1–3 bright lesions per phantom" };
        var masks = new Option<string?>("--masks") { Description = "Lesion masks [N, 1, S, S] (.npy); needs --lesions" };
        var preview = new Option<string?>("--preview") { Description = "Also write a PNG grid of the phantoms" };
        var contrastB = new Option<string?>("--contrast-b") { Description = "Also write the same phantoms in a second, T2-like contrast [N, 1, S, S] (.npy), paired with --output for translation" };
        var command = new Command("phantoms", "Generate synthetic 2-D head phantoms") { n, size, seed, first, output, lesions, masks, preview, contrastB };
        command.SetAction(r =>
        {
            int count = CommonOptions.AtLeast("--n", r.GetValue(n), 1), s = CommonOptions.InRange("--size", r.GetValue(size), 8, MaxSize);
            bool withLesions = r.GetValue(lesions);
            var contrastBPath = r.GetValue(contrastB);
            var maskPath = r.GetValue(masks);
            if (maskPath is not null && !withLesions) throw new ArgumentException("--masks needs --lesions");
            if (r.GetValue(first) < 0) throw new ArgumentException($"--first-index must be ≥ 0, found {r.GetValue(first)}");
            // Checked before anything is generated: the images (and the masks) are one array each.
            string what = $"--n {count} phantoms of --size {s}×{s}";
            MemoryBudget.HostArray(what, MemoryBudget.Elements(what, count, s, s));
            MemoryBudget.EnsureHost(what + (withLesions ? " with lesion masks" : "") + (contrastBPath is null ? "" : " in two contrasts"),
                MemoryBudget.Elements(what, 1 + (withLesions ? 1 : 0) + (contrastBPath is null ? 0 : 1), count, s, s, sizeof(float)));
            OutputFile.RequireDistinct(("--output", r.GetValue(output)), ("--masks", maskPath), ("--preview", r.GetValue(preview)), ("--contrast-b", contrastBPath));
            OutputFile.Check(r.GetValue(output)!, "--output");
            if (maskPath is not null) OutputFile.Check(maskPath, "--masks");
            if (r.GetValue(preview) is { } previewPath) OutputFile.Check(previewPath, "--preview");
            if (contrastBPath is not null) OutputFile.Check(contrastBPath, "--contrast-b");
            var lesionSpec = withLesions ? LesionSpec.Standard : null;
            float[] images, secondContrast = [];
            float[]? maskData;
            if (contrastBPath is null) (images, maskData) = HeadPhantom.GenerateBatch(count, s, r.GetValue(seed), lesionSpec, r.GetValue(first));
            else (images, secondContrast, maskData) = SecondContrast.GenerateBatch(count, s, r.GetValue(seed), lesionSpec, r.GetValue(first));
            int[] shape = [count, 1, s, s];
            Npy.Write(r.GetValue(output)!, images, shape);
            if (contrastBPath is not null) Npy.Write(contrastBPath, secondContrast, shape);
            if (maskPath is not null) Npy.Write(maskPath, maskData!, shape);
            if (r.GetValue(preview) is { } png) ImageWriter.SaveGrid(png, images, shape, 0f, 1f);
            Console.WriteLine($"wrote {count} phantoms of {s}×{s} to {r.GetValue(output)}{(maskPath is null ? "" : $" and masks to {maskPath}")}{(contrastBPath is null ? "" : $" and their second contrast to {contrastBPath}")}");
            return 0;
        });
        return command;
    }
}
