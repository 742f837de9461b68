using System.Text.Json;

namespace DiffusionKernels.Runtime.Models;

/// <summary>Typed reads from a JSON config object that remember which keys were used, so unknown keys can be reported.</summary>
internal sealed class ConfigReader
{
    private readonly JsonElement root;
    private readonly string source;
    private readonly HashSet<string> _seen = [];
    private readonly HashSet<string> _useDefaults = [];

    /// <summary>Keys listed in diffusers' <c>_use_default_values</c> are read as missing (their current default applies).</summary>
    public ConfigReader(JsonElement root, string source)
    {
        this.root = root;
        this.source = source;
        if (root.TryGetProperty("_use_default_values", out var d) && d.ValueKind == JsonValueKind.Array)
            foreach (var k in d.EnumerateArray())
                if (k.ValueKind == JsonValueKind.String) _useDefaults.Add(k.GetString()!);
    }

    /// <summary>Fails on any key that no reader asked for (keys starting with '_' are metadata).</summary>
    public void RejectUnknownKeys(IEnumerable<string>? ignored = null)
    {
        var skip = new HashSet<string>(ignored ?? []);
        foreach (var p in root.EnumerateObject())
            if (!p.Name.StartsWith('_') && !_seen.Contains(p.Name) && !skip.Contains(p.Name))
                throw new ModelFormatException($"{source}: key '{p.Name}' is not supported by this engine");
    }

    private bool TryGet(string key, out JsonElement e)
    {
        _seen.Add(key);
        if (_useDefaults.Contains(key))
        {
            e = default;
            return false;
        }
        return root.TryGetProperty(key, out e);
    }

    private ModelFormatException Bad(string key, JsonElement e, string expected) =>
        new($"{source}: key '{key}' must be {expected}, found {e.GetRawText()}");

    public bool Has(string key) => root.TryGetProperty(key, out _);

    public int Int(string key, int fallback) => NullableInt(key, fallback) ?? throw new ModelFormatException($"{source}: key '{key}' must not be null");

    public int? NullableInt(string key, int? fallback)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue) return (int)d;
        throw Bad(key, e, "an integer");
    }

    public float Float(string key, float fallback)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind == JsonValueKind.Number) return (float)e.GetDouble();
        throw Bad(key, e, "a number");
    }

    public double? NullableDouble(string key, double? fallback)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.Number) return e.GetDouble();
        throw Bad(key, e, "a number");
    }

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

    public string? String(string key, string? fallback)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.String) return e.GetString();
        throw Bad(key, e, "a string");
    }

    public string[] Strings(string key, string[] fallback)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind != JsonValueKind.Array) throw Bad(key, e, "a list of strings");
        return e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw Bad(key, e, "a list of strings")).ToArray();
    }

    public int[] Ints(string key, int[] fallback)
    {
        if (!TryGet(key, out var e)) return fallback;
        if (e.ValueKind != JsonValueKind.Array) throw Bad(key, e, "a list of integers");
        return e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var i) ? i : throw Bad(key, e, "a list of integers")).ToArray();
    }

    public double[]? Doubles(string key)
    {
        if (!TryGet(key, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Array) throw Bad(key, e, "a list of numbers");
        return e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number ? x.GetDouble() : throw Bad(key, e, "a list of numbers")).ToArray();
    }
}
