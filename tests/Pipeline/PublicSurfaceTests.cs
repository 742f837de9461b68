using System.Reflection;
using System.Text.RegularExpressions;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Pipeline;

/// <summary>
/// The public surface is deliberate: docs/api.md lists every exported type, the engine's internals and the CLI export
/// nothing, and library errors name the property to set rather than a dk flag.
/// </summary>
public partial class PublicSurfaceTests
{
    private static readonly string[] LibraryAssemblies =
        ["DiffusionKernels", "DiffusionKernels.Runtime", "DiffusionKernels.Kernels", "DiffusionKernels.Samplers", "DiffusionKernels.Medical"];

    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DiffusionKernels.sln"))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException($"{relative}: the repository root was not found above {AppContext.BaseDirectory}");
    }

    private static Type[] Exported(string assembly) => Assembly.Load(assembly).GetExportedTypes().Where(t => !t.IsNested).ToArray();

    [GeneratedRegex("`([A-Za-z0-9]+)`")]
    private static partial Regex CodeSpan();

    [Test]
    public void DocsApiListsEveryPublicTypeAndNoMore()
    {
        var api = File.ReadAllText(RepoFile("docs/api.md"));
        int start = api.IndexOf("## Every public type", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), "docs/api.md has an 'Every public type' section");
        int end = api.IndexOf("\n## ", start + 3, StringComparison.Ordinal);
        var rows = api[start..end].Split('\n').Where(l => l.StartsWith("| `DiffusionKernels", StringComparison.Ordinal));
        var listed = new HashSet<string>();
        foreach (var row in rows)
        {
            var cells = row.Split('|', StringSplitOptions.TrimEntries);
            string ns = cells[1].Trim('`');
            foreach (Match m in CodeSpan().Matches(cells[2])) listed.Add($"{ns}.{m.Groups[1].Value}");
        }
        var exported = LibraryAssemblies.SelectMany(Exported).Select(t => t.FullName!.Split('`')[0]).ToHashSet();
        Assert.Multiple(() =>
        {
            Assert.That(exported.Except(listed), Is.Empty, "public types missing from docs/api.md");
            // Code spans in a row that are not types (e.g. `euler`, `FromConfig`) are allowed; type-like names must exist.
            Assert.That(listed.Where(n => char.IsUpper(n[(n.LastIndexOf('.') + 1)..][0])).Except(exported), Is.Empty, "docs/api.md lists types that are not public");
        });
    }

    [Test]
    public void KernelsAndTheCliExportOnlyWhatAppsNeed()
    {
        Assert.That(Exported("DiffusionKernels.Kernels").Select(t => t.Name), Is.EquivalentTo(new[] { "Activation" }),
            "kernels are internal; Activation is public because Backend's fused ops take it");
        Assert.That(Exported("dk"), Is.Empty, "the CLI's types are internal");
        var runtime = Exported("DiffusionKernels.Runtime");
        Assert.That(runtime.Where(t => t.Namespace is { } ns && (ns.EndsWith(".Layers", StringComparison.Ordinal) || ns.EndsWith(".Plan", StringComparison.Ordinal))),
            Is.Empty, "U-Net layers and plan internals are internal");
    }

    [GeneratedRegex("\"[^\"\\n]*(?<![A-Za-z0-9])--[a-z][^\"\\n]*\"")]
    private static partial Regex FlagInLiteral();

    [Test]
    public void LibraryMessagesNameNoCliFlags()
    {
        var offenders = new List<string>();
        foreach (var project in new[] { "Kernels", "Runtime", "Samplers", "Medical", "Pipeline" })
        {
            var root = RepoFile(Path.Combine("src", project));
            foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                    || file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)) continue;
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                {
                    string code = lines[i].TrimStart();
                    if (code.StartsWith("//", StringComparison.Ordinal)) continue;
                    if (FlagInLiteral().IsMatch(code)) offenders.Add($"{Path.GetRelativePath(RepoFile(""), file)}:{i + 1}: {code}");
                }
            }
        }
        Assert.That(offenders, Is.Empty, "library messages name the parameter or request property, not a dk flag");
    }

    [Test]
    public void AClassConditionMismatchNamesTheSettingToChange()
    {
        string model = Fixtures.Path("unet", "film_classes_f16");
        using var backend = new CpuBackend();
        var missing = Assert.Throws<ArgumentException>(() => DiffusionModel.Open(model, backend, 1))!;
        Assert.That(missing.ParamName, Is.EqualTo("conditioning"));
        Assert.That(missing.Message, Does.Contain("ClassConditioning.Label").And.Not.Contain("--"));

        using var pipeline = DiffusionPipeline.Open(model, backend);
        var viaPipeline = Assert.Throws<ArgumentException>(() => pipeline.Prepare(new GenerationRequest { Steps = 1 }))!;
        Assert.That(viaPipeline.Message, Does.Contain("GenerationRequest.ClassLabel").And.Not.Contain("--").And.Not.Contain("ClassConditioning"));

        using var unconditional = DiffusionPipeline.Open(Fixtures.Path("unet", "tiny_ddpm"), backend);
        var extra = Assert.Throws<ArgumentException>(() => unconditional.Prepare(new GenerationRequest { Steps = 1, ClassLabel = 1 }))!;
        Assert.That(extra.Message, Does.Contain("not class-conditional").And.Contain("GenerationRequest.ClassLabel").And.Not.Contain("--"));
    }
}
