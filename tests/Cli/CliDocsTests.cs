using System.Reflection;
using System.Text.RegularExpressions;
using DiffusionKernels.Cli;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary>docs/cli.md's exit-code table is the one <see cref="CliErrors"/> defines: every code, by name and value.</summary>
public partial class CliDocsTests
{
    [GeneratedRegex(@"^\| (\d+) \| `(\w+)` \|", RegexOptions.Multiline)]
    private static partial Regex ExitCodeRow();

    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DiffusionKernels.sln"))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException($"{relative}: the repository root was not found above {AppContext.BaseDirectory}");
    }

    [Test]
    public void TheDocumentedExitCodesAreCliErrors()
    {
        var documented = ExitCodeRow().Matches(File.ReadAllText(RepoFile("docs/cli.md")))
            .ToDictionary(m => m.Groups[2].Value, m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        var defined = typeof(CliErrors).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int)).ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);
        Assert.That(defined, Has.Count.EqualTo(5));
        Assert.That(documented, Is.EquivalentTo(defined));
    }
}
