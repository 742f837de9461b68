using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// Typed, bounds-checked reads from a JSON config object (a diffusers <c>config.json</c> or
/// <c>scheduler_config.json</c>, a mixture spec) that remember which keys were used, so unknown keys can be reported.
/// Every error is a <see cref="ModelFormatException"/> that names the file and the key.
/// </summary>
/// <remarks>Thread safety: records which keys were read, so one reader serves one thread.</remarks>
internal sealed class ConfigReader
{
    private readonly JsonElement _root;
    private readonly HashSet<string> _seen = [];
    private readonly HashSet<string> _useDefaults = [];

    /// <summary>Reads keys of <paramref name="root"/>; keys listed in diffusers' <c>_use_default_values</c> are read as missing (their current default applies).</summary>
    /// <param name="root">A JSON object.</param>
    /// <param name="source">The file the object came from, for messages.</param>
    public ConfigReader(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{source}: expected a JSON object, found {root.ValueKind.ToString().ToLowerInvariant()}");
        _root = root;
        Source = source;
        if (root.TryGetProperty("_use_default_values", out var d) && d.ValueKind == JsonValueKind.Array)
            foreach (var k in d.EnumerateArray())
                if (k.ValueKind == JsonValueKind.String) _useDefaults.Add(k.GetString()!);
    }

    /// <summary>The file (or other source) named in messages.</summary>
    public string Source { get; }

    /// <summary>The JSON object being read.</summary>
    public JsonElement Root => _root;

    /// <summary>Reads and parses the config file at <paramref name="path"/> (a regular file; see <see cref="RegularFile"/>).</summary>
    /// <param name="path">The file.</param>
    /// <param name="what">What the file is, for messages ("model config", "scheduler config").</param>
    public static ConfigReader Load(string path, string what) => Parse(RegularFile.ReadAllText(path, what), path);

    /// <summary>
    /// Parses <paramref name="json"/>. Python's <c>json</c> writes <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> as bare
    /// literals (diffusers' DPM-Solver configs hold <c>"lambda_min_clipped": -Infinity</c>); they are accepted where a
    /// number is read.
    /// </summary>
    public static ConfigReader Parse(string json, string source)
    {
        try
        {
            // The document is cloned out so that it needs no disposal; configs are small.
            using var doc = JsonDocument.Parse(QuoteNonFiniteLiterals(json), new JsonDocumentOptions { MaxDepth = 64 });
            return new ConfigReader(doc.RootElement.Clone(), source);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{source}: invalid JSON{(e.LineNumber is { } line ? $" at line {line + 1}" : "")}: {e.Message}", e);
        }
    }

    /// <summary>Fails on any key that no reader asked for (keys starting with '_' are metadata).</summary>
    public void RejectUnknownKeys(IEnumerable<string>? ignored = null)
    {
        var skip = new HashSet<string>(ignored ?? []);
        foreach (var p in _root.EnumerateObject())
            if (!p.Name.StartsWith('_') && !_seen.Contains(p.Name) && !skip.Contains(p.Name))
                throw new ModelFormatException($"{Source}: key '{p.Name}' is not supported by this engine");
    }

    /// <summary>The keys present that no reader has asked for (metadata keys starting with '_' excluded).</summary>
    public IEnumerable<string> UnreadKeys() =>
        _root.EnumerateObject().Select(p => p.Name).Where(n => !n.StartsWith('_') && !_seen.Contains(n));

    private bool TryGet(string key, out JsonElement e)
    {
        _seen.Add(key);
        if (_useDefaults.Contains(key))
        {
            e = default;
            return false;
        }
        return _root.TryGetProperty(key, out e);
    }

    private ModelFormatException Bad(string key, JsonElement e, string expected) =>
        new($"{Source}: key '{key}' must be {expected}, found {e.GetRawText()}");

    private ModelFormatException OutOfRange(string key, object value, string range) =>
        new($"{Source}: key '{key}' must be {range}, found {Convert.ToString(value, CultureInfo.InvariantCulture)}");

    /// <summary>True when the key is present (whatever its value).</summary>
    public bool Has(string key) => _root.TryGetProperty(key, out _);

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>]; null is an error.</summary>
    public int Int(string key, int fallback, int min = int.MinValue, int max = int.MaxValue) =>
        NullableInt(key, fallback, min, max) ?? throw new ModelFormatException($"{Source}: key '{key}' must not be null");

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>], or null.</summary>
    public int? NullableInt(string key, int? fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out var d) || d != Math.Floor(d)) throw Bad(key, e, "an integer");
        if (d < min || d > max) throw OutOfRange(key, d, Range(min, max));
        return (int)d;
    }

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>] (NaN is refused; ±Infinity only when the bounds admit it).</summary>
    public double Double(string key, double fallback, double min = double.NegativeInfinity, double max = double.PositiveInfinity) =>
        NullableDouble(key, fallback, min, max) ?? throw new ModelFormatException($"{Source}: key '{key}' must not be null");

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>], or null.</summary>
    public double? NullableDouble(string key, double? fallback, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind == JsonValueKind.Null) return null;
        double d = Number(key, e);
        if (double.IsNaN(d) || d < min || d > max) throw OutOfRange(key, d, Range(min, max));
        return d;
    }

    /// <summary>A finite single-precision number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public float Float(string key, float fallback, float min = float.MinValue, float max = float.MaxValue) =>
        (float)Double(key, fallback, AsWritten(min), AsWritten(max));

    /// <summary>
    /// A float bound as its shortest spelling, read as a double: widened directly, 1e-30f would be checked, and named in
    /// the error, as 1.0000000031710769E-30.
    /// </summary>
    private static double AsWritten(float bound) =>
        float.IsFinite(bound) ? double.Parse(bound.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : bound;

    /// <summary>true or false.</summary>
    public bool Bool(string key, bool fallback)
    {
        if (!TryGet(key, out var e)) return fallback;
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Bad(key, e, "true or false"),
        };
    }

    /// <summary>A string, or null.</summary>
    public string? String(string key, string? fallback)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.String) return e.GetString();
        throw Bad(key, e, "a string");
    }

    /// <summary>A string that must be one of <paramref name="allowed"/> (the message lists them).</summary>
    public string Choice(string key, string fallback, params string[] allowed)
    {
        var s = String(key, fallback) ?? throw new ModelFormatException($"{Source}: key '{key}' must not be null");
        if (!allowed.Contains(s, StringComparer.Ordinal))
            throw new ModelFormatException($"{Source}: key '{key}' value '{s}' is not supported ({string.Join(", ", allowed)})");
        return s;
    }

    /// <summary>A list of strings.</summary>
    public string[] Strings(string key, string[] fallback)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind != JsonValueKind.Array) throw Bad(key, e, "a list of strings");
        return e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw Bad(key, e, "a list of strings")).ToArray();
    }

    /// <summary>A list of integers, each in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int[] Ints(string key, int[] fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind != JsonValueKind.Array) throw Bad(key, e, "a list of integers");
        return e.EnumerateArray().Select(x =>
        {
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetDouble(out var d) || d != Math.Floor(d)) throw Bad(key, e, "a list of integers");
            if (d < min || d > max) throw OutOfRange(key, d, $"a list of integers in {Range(min, max)}");
            return (int)d;
        }).ToArray();
    }

    /// <summary>A list of finite numbers, or null when absent.</summary>
    public double[]? Doubles(string key)
    {
        if (!TryGet(key, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Array) throw Bad(key, e, "a list of numbers");
        return e.EnumerateArray().Select(x => Number(key, x) is var d && double.IsFinite(d) ? d : throw Bad(key, e, "a list of finite numbers")).ToArray();
    }

    private double Number(string key, JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var d)) return d;
        if (e.ValueKind == JsonValueKind.String)
            switch (e.GetString())
            {
                case NegativeInfinityLiteral: return double.NegativeInfinity;
                case PositiveInfinityLiteral: return double.PositiveInfinity;
                case NaNLiteral: return double.NaN;
            }
        throw Bad(key, e, "a number");
    }

    private static string Range(double min, double max) =>
        (min, max) switch
        {
            (double.NegativeInfinity or int.MinValue, double.PositiveInfinity or int.MaxValue) => "a number",
            (_, double.PositiveInfinity or int.MaxValue) => $"≥ {Fmt(min)}",
            (double.NegativeInfinity or int.MinValue, _) => $"≤ {Fmt(max)}",
            _ => $"in [{Fmt(min)}, {Fmt(max)}]",
        };

    private static string Fmt(double v) => v.ToString("G", CultureInfo.InvariantCulture);

    private const string NaNLiteral = "NaN", PositiveInfinityLiteral = "Infinity", NegativeInfinityLiteral = "-Infinity";

    /// <summary>Rewrites Python's bare NaN/Infinity/-Infinity tokens (outside strings) as strings that <see cref="Number"/> reads.</summary>
    private static string QuoteNonFiniteLiterals(string json)
    {
        if (!json.Contains("NaN", StringComparison.Ordinal) && !json.Contains("Infinity", StringComparison.Ordinal)) return json;
        var sb = new StringBuilder(json.Length + 16);
        bool inString = false;
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (inString)
            {
                sb.Append(c);
                if (c == '\\' && i + 1 < json.Length) sb.Append(json[++i]);
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') inString = true;
            string? literal = Match(json, i, NegativeInfinityLiteral) ?? Match(json, i, PositiveInfinityLiteral) ?? Match(json, i, NaNLiteral);
            if (literal is null)
            {
                sb.Append(c);
                continue;
            }
            sb.Append('"').Append(literal).Append('"');
            i += literal.Length - 1;
        }
        return sb.ToString();
    }

    private static string? Match(string s, int at, string token) =>
        string.CompareOrdinal(s, at, token, 0, token.Length) == 0
        && (at + token.Length == s.Length || !char.IsLetterOrDigit(s[at + token.Length]))
        && (at == 0 || !char.IsLetterOrDigit(s[at - 1]))
            ? token : null;
}
