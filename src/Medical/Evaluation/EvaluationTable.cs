using System.Globalization;
using System.Text;

namespace DiffusionKernels.Medical.Evaluation;

/// <summary>One table of the evaluation: a title, column names, rows of cells and notes under it.</summary>
/// <remarks>Thread safety: a mutable collection; fill it from one thread.</remarks>
public sealed class EvaluationTable(string title, params string[] columns)
{
    /// <summary>What the table measures.</summary>
    public string Title { get; } = title;
    /// <summary>Column names.</summary>
    public IReadOnlyList<string> Columns { get; } = columns;
    /// <summary>Rows, each one cell per column.</summary>
    public List<string[]> Rows { get; } = [];
    /// <summary>Lines printed under the table (settings, tuned parameters).</summary>
    public List<string> Notes { get; } = [];

    /// <summary>Adds a row (cells formatted by the caller).</summary>
    public string[] Add(params string[] cells)
    {
        if (cells.Length != Columns.Count) throw new ArgumentException($"evaluation table '{Title}': a row needs {Columns.Count} cells, found {cells.Length}");
        Rows.Add(cells);
        return cells;
    }

    /// <summary>The table as GitHub markdown (title as a heading, notes as a paragraph).</summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"### {Title}");
        sb.AppendLine();
        sb.AppendLine("| " + string.Join(" | ", Columns) + " |");
        sb.AppendLine("|" + string.Concat(Columns.Select((_, i) => i < 2 ? "---|" : "---:|")));
        foreach (var r in Rows) sb.AppendLine("| " + string.Join(" | ", r) + " |");
        if (Notes.Count > 0)
        {
            sb.AppendLine();
            foreach (var n in Notes) sb.AppendLine(n);
        }
        return sb.ToString();
    }

    /// <summary>A row formatted as markdown (for live printing).</summary>
    public static string RowMarkdown(string[] cells) => "| " + string.Join(" | ", cells) + " |";
}

/// <summary>One point of the quality-vs-NFE study.</summary>
public readonly record struct StudyPoint(string Setting, string Method, int Steps, int Nfe, double Psnr, double Ssim);

/// <summary>Everything one evaluation run produced.</summary>
/// <remarks>Thread safety: a mutable collection; fill it from one thread.</remarks>
public sealed class EvaluationReport
{
    /// <summary>The tables, in the order they were made.</summary>
    public List<EvaluationTable> Tables { get; } = [];
    /// <summary>The quality-vs-NFE points.</summary>
    public List<StudyPoint> Study { get; } = [];
    /// <summary>The run's settings in one line.</summary>
    public string Header { get; set; } = "";
    /// <summary>Wall time of the run.</summary>
    public TimeSpan Elapsed { get; set; }

    /// <summary>
    /// Where a number came out NaN or infinite: "table title: row" for each cell printed as NaN or ±Infinity (invariant
    /// culture), and each study point with a non-finite PSNR or SSIM. Empty when every result is finite.
    /// </summary>
    public IReadOnlyList<string> NonFiniteResults()
    {
        static bool NonFinite(string cell) => cell.Contains("NaN", StringComparison.Ordinal) || cell.Contains("Infinity", StringComparison.Ordinal) || cell.Contains('∞');
        var found = new List<string>();
        foreach (var t in Tables)
            foreach (var r in t.Rows)
                if (r.Any(NonFinite)) found.Add($"{t.Title}: {string.Join(" | ", r)}");
        foreach (var p in Study)
            if (!double.IsFinite(p.Psnr) || !double.IsFinite(p.Ssim)) found.Add($"quality-vs-NFE study: {p.Setting} {p.Method}, {p.Steps} steps");
        return found;
    }

    /// <summary>All tables as markdown.</summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine(Header);
        sb.AppendLine();
        foreach (var t in Tables) sb.AppendLine(t.ToMarkdown());
        return sb.ToString();
    }
}
