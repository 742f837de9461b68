using System.Text.RegularExpressions;

namespace DiffusionKernels.Tests.Deploy;

/// <summary>
/// Reads the block-style YAML subset the deploy manifests use (maps, sequences, plain and quoted scalars, comments)
/// into dictionaries, lists and strings, so the tests can check a manifest's structure without a YAML package.
/// Anything outside the subset (flow collections, anchors, multi-line scalars, tabs) is an error, never a guess.
/// </summary>
public static partial class MiniYaml
{
    private sealed record Line(int Number, int Indent, string Text);

    /// <summary>Parses <paramref name="text"/> (one document) into nested dictionaries, lists and strings.</summary>
    public static object? Parse(string text)
    {
        var lines = new List<Line>();
        var raw = text.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < raw.Length; i++)
        {
            var line = raw[i];
            if (line.Contains('\t')) throw new FormatException($"line {i + 1}: tabs are not YAML indentation");
            var body = StripComment(line).TrimEnd();
            if (body.Trim().Length == 0 || body.Trim() == "---") continue;
            lines.Add(new Line(i + 1, body.Length - body.TrimStart().Length, body.Trim()));
        }
        if (lines.Count == 0) return null;
        int at = 0;
        var result = Block(lines, ref at, lines[0].Indent);
        if (at != lines.Count) throw new FormatException($"line {lines[at].Number}: unexpected indentation");
        return result;
    }

    private static object Block(List<Line> lines, ref int at, int indent) =>
        IsItem(lines[at].Text) ? Sequence(lines, ref at, indent) : Map(lines, ref at, indent);

    private static bool IsItem(string text) => text == "-" || text.StartsWith("- ", StringComparison.Ordinal);

    private static Dictionary<string, object?> Map(List<Line> lines, ref int at, int indent)
    {
        var map = new Dictionary<string, object?>();
        while (at < lines.Count && lines[at].Indent == indent && !IsItem(lines[at].Text))
        {
            var line = lines[at];
            var m = KeyPattern().Match(line.Text);
            if (!m.Success) throw new FormatException($"line {line.Number}: expected 'key: value', found '{line.Text}'");
            var key = Scalar(m.Groups[1].Value, line.Number);
            var value = m.Groups[2].Value.Trim();
            at++;
            object? parsed;
            if (value.Length > 0) parsed = Scalar(value, line.Number);
            else if (at < lines.Count && lines[at].Indent > indent) parsed = Block(lines, ref at, lines[at].Indent);
            else if (at < lines.Count && lines[at].Indent == indent && IsItem(lines[at].Text)) parsed = Sequence(lines, ref at, indent);
            else parsed = null;
            if (!map.TryAdd(key, parsed)) throw new FormatException($"line {line.Number}: key '{key}' appears twice");
        }
        if (at < lines.Count && lines[at].Indent > indent) throw new FormatException($"line {lines[at].Number}: unexpected indentation");
        return map;
    }

    private static List<object?> Sequence(List<Line> lines, ref int at, int indent)
    {
        var list = new List<object?>();
        while (at < lines.Count && lines[at].Indent == indent && IsItem(lines[at].Text))
        {
            var line = lines[at];
            var rest = line.Text[1..].TrimStart();
            if (rest.Length == 0)
            {
                at++;
                list.Add(at < lines.Count && lines[at].Indent > indent ? Block(lines, ref at, lines[at].Indent) : null);
            }
            else if (KeyPattern().IsMatch(rest) || IsItem(rest))
            {
                // "- key: value": a map (or sequence) whose first line starts after the dash.
                lines[at] = line with { Indent = indent + (line.Text.Length - rest.Length), Text = rest };
                list.Add(Block(lines, ref at, lines[at].Indent));
            }
            else
            {
                list.Add(Scalar(rest, line.Number));
                at++;
            }
        }
        return list;
    }

    private static string Scalar(string text, int number)
    {
        if (text.StartsWith('"'))
        {
            if (text.Length < 2 || !text.EndsWith('"')) throw new FormatException($"line {number}: unterminated string {text}");
            return Regex.Unescape(text[1..^1]);
        }
        if (text.StartsWith('\''))
        {
            if (text.Length < 2 || !text.EndsWith('\'')) throw new FormatException($"line {number}: unterminated string {text}");
            return text[1..^1].Replace("''", "'");
        }
        if (text[0] is '[' or '{' or '&' or '*' or '|' or '>' or '!' or '%' or '@' or '`')
            throw new FormatException($"line {number}: '{text}' is outside the YAML subset the deploy files use");
        return text;
    }

    private static string StripComment(string line)
    {
        bool single = false, dbl = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (c == '\'' && !dbl) single = !single;
            else if (c == '"' && !single) dbl = !dbl;
            else if (c == '#' && !single && !dbl && (i == 0 || line[i - 1] == ' ')) return line[..i];
        }
        return line;
    }

    [GeneratedRegex(@"^((?:""[^""]*"")|(?:'[^']*')|(?:[A-Za-z0-9_.\-/]+)):(?:\s+(.*)|$)")]
    private static partial Regex KeyPattern();
}
