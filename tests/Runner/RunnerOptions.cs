using System.Security;

namespace DiffusionKernels.TestRunner;

/// <summary>The runner's command line.</summary>
public sealed class RunnerOptions
{
    public const string Usage =
        "usage: dk-tests [--category NAME]... [--name REGEX] [--fail-on-skip] [--results FILE.xml] [--list]\n"
        + "  --category NAME  run tests of this NUnit category (repeat for any of several)\n"
        + "  --name REGEX     run tests whose full name matches REGEX\n"
        + "  --fail-on-skip   count skipped (ignored, inconclusive) tests as failures\n"
        + "  --results FILE   write NUnit's XML result\n"
        + "  --list           list the matching tests and stop";

    public List<string> Categories { get; } = [];
    public string? Name { get; private set; }
    public bool FailOnSkip { get; private set; }
    public string? ResultsFile { get; private set; }
    public bool List { get; private set; }
    public bool Help { get; private set; }

    public static RunnerOptions Parse(IReadOnlyList<string> args)
    {
        var o = new RunnerOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--category": o.Categories.Add(Value()); break;
                case "--name": o.Name = Value(); break;
                case "--fail-on-skip": o.FailOnSkip = true; break;
                case "--results": o.ResultsFile = Value(); break;
                case "--list": o.List = true; break;
                case "-h" or "--help": o.Help = true; break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        return o;
    }

    /// <summary>NUnit's XML filter: any of the categories, and the name pattern; empty matches everything.</summary>
    public string FilterXml()
    {
        var parts = new List<string>();
        if (Categories.Count > 0) parts.Add("<or>" + string.Concat(Categories.Select(c => $"<cat>{SecurityElement.Escape(c)}</cat>")) + "</or>");
        if (Name is not null) parts.Add($"<test re=\"1\">{SecurityElement.Escape(Name)}</test>");
        return parts.Count switch
        {
            0 => "<filter/>",
            1 => $"<filter>{parts[0]}</filter>",
            _ => $"<filter><and>{string.Concat(parts)}</and></filter>",
        };
    }

    public string Describe() =>
        Categories.Count == 0 && Name is null ? "(all)" : string.Join(" and ", new[]
        {
            Categories.Count > 0 ? $"category {string.Join(" or ", Categories)}" : null,
            Name is null ? null : $"name /{Name}/",
        }.Where(s => s is not null));
}
