using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DiffusionKernels.Tests.Reliability.Fuzz;

/// <summary>
/// Structural mutations of a JSON document that know its shape: values replaced by boundary numbers (zero, negative,
/// huge, fractional, non-finite), other types, null, unicode; members and elements deleted, duplicated or added;
/// values wrapped in extra nesting; and text-level damage (truncation, byte flips, a non-object root, deep nesting).
/// </summary>
public sealed class JsonMutator(Random rng)
{
    // Raw tokens the serializer cannot produce (Python's literals, out-of-range and malformed numbers) travel as marked strings.
    private const string RawMark = "\u00abRAW\u00bb";

    private static readonly string[] RawTokens = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "-0", "1E+2", "01", "0x10", "+1", ".5"];

    private static readonly Func<JsonNode?>[] Interesting =
    [
        () => 0, () => -1, () => 1, () => 2, () => 3, () => 7, () => 1.5, () => -0.5, () => 0.1, () => 1e-300,
        () => 1e8, () => 1e9, () => int.MaxValue, () => (long)int.MaxValue + 1, () => (long)int.MinValue - 1, () => 9007199254740993L,
        () => long.MaxValue, () => 1e308, () => -1e308, () => double.Epsilon,
        () => null, () => true, () => false, () => "", () => "x", () => "DownBlock2D", () => "linear", () => "ü\u00e9\u4e2d\ud834\udd1e",
        () => new string('a', 5000), () => "\u0000", () => new JsonArray(), () => new JsonObject(), () => new JsonArray(1, 2),
        () => new JsonArray(0), () => new JsonArray(-1, 1e9), () => new JsonArray("a"), () => new JsonObject { ["a"] = 1 },
        () => RawMark + "NaN", () => RawMark + "Infinity", () => RawMark + "-Infinity", () => RawMark + "1e400",
    ];

    /// <summary>A mutant of <paramref name="json"/> (an object) and what was done to it.</summary>
    public (string Text, string Description) Mutate(string json)
    {
        if (rng.Next(10) < 7)
        {
            // Python's bare literals (diffusers writes "lambda_min_clipped": -Infinity) are carried as marked strings.
            var quoted = System.Text.RegularExpressions.Regex.Replace(json, @"(?<=[:\[,]\s*)(-Infinity|Infinity|NaN)(?=\s*[,\]}])", m => $"\"{RawMark}{m.Value}\"");
            var root = JsonNode.Parse(quoted)!;
            var what = new List<string>();
            int count = 1 + rng.Next(rng.Next(4) == 0 ? 4 : 1);
            for (int i = 0; i < count; i++) root = MutateNode(root, what);
            return (Serialize(root), string.Join("; ", what));
        }
        return MutateText(json);
    }

    /// <summary>One mutation of a random location in <paramref name="root"/>; returns the (possibly new) root.</summary>
    public JsonNode MutateNode(JsonNode root, List<string> what)
    {
        var locations = new List<JsonNode>();
        Collect(root, locations);
        var node = locations[rng.Next(locations.Count)];
        var path = node.GetPath();
        int op = rng.Next(8);
        switch (op)
        {
            case 0 or 1 or 2: // replace with a boundary or foreign value
            {
                var value = Interesting[rng.Next(Interesting.Length)]();
                what.Add($"{path} = {Describe(value)}");
                return Replace(root, node, value);
            }
            case 3: // delete
                if (node.Parent is JsonObject o) { o.Remove(node.GetPropertyName()); what.Add($"delete {path}"); return root; }
                if (node.Parent is JsonArray a) { a.Remove(node); what.Add($"delete {path}"); return root; }
                what.Add("root = {}");
                return new JsonObject();
            case 4: // flip the type
            {
                JsonNode? value = node switch
                {
                    JsonValue v when v.TryGetValue<double>(out var d) => JsonValue.Create(d.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    JsonValue v when v.TryGetValue<string>(out var s) => double.TryParse(s, out var d) ? JsonValue.Create(d) : new JsonArray(JsonValue.Create(s)),
                    JsonValue v when v.TryGetValue<bool>(out var b) => JsonValue.Create(b ? 1 : 0),
                    JsonArray list => list.Count > 0 ? list[0]?.DeepClone() : null,
                    JsonObject => new JsonArray(),
                    _ => JsonValue.Create("null"),
                };
                what.Add($"flip type of {path} to {Describe(value)}");
                return Replace(root, node, value);
            }
            case 5: // wrong nesting
            {
                JsonNode wrapped = rng.Next(2) == 0 ? new JsonArray(node.DeepClone()) : new JsonObject { ["value"] = node.DeepClone() };
                what.Add($"nest {path} in {(wrapped is JsonArray ? "[ ]" : "{ }")}");
                return Replace(root, node, wrapped);
            }
            case 6: // arrays: duplicate, empty or grow; elsewhere: an unknown key
                if (node is JsonArray arr)
                {
                    switch (rng.Next(3))
                    {
                        case 0: if (arr.Count > 0) arr.Add(arr[rng.Next(arr.Count)]?.DeepClone()); what.Add($"duplicate an element of {path}"); break;
                        case 1: arr.Clear(); what.Add($"empty {path}"); break;
                        default: arr.Add(Interesting[rng.Next(Interesting.Length)]()); what.Add($"append to {path}"); break;
                    }
                    return root;
                }
                goto default;
            default:
            {
                var target = locations.OfType<JsonObject>().ToList() is { Count: > 0 } objects ? objects[rng.Next(objects.Count)] : null;
                if (target is null) return root;
                var key = rng.Next(3) switch { 0 => "unknown_key", 1 => "\u00fc\u4e2d_key", _ => "_private" };
                target[key] = Interesting[rng.Next(Interesting.Length)]();
                what.Add($"add {target.GetPath()}.{key}");
                return root;
            }
        }
    }

    /// <summary>Text-level damage.</summary>
    public (string Text, string Description) MutateText(string json)
    {
        switch (rng.Next(9))
        {
            case 0:
            {
                int at = rng.Next(json.Length);
                return (json[..at], $"truncate at {at}");
            }
            case 1:
            {
                var bytes = Encoding.UTF8.GetBytes(json);
                int flips = 1 + rng.Next(4);
                for (int i = 0; i < flips; i++) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                return (Encoding.UTF8.GetString(bytes), $"flip {flips} bits");
            }
            case 2: return ("", "empty");
            case 3:
            {
                var roots = new[] { "[]", "null", "1", "\"config\"", "[" + json + "]", "true", "{}", " " };
                var r = roots[rng.Next(roots.Length)];
                return (r, $"root {(r.Length > 20 ? "[original]" : r)}");
            }
            case 4: return (new string('[', 5000) + new string(']', 5000), "deep nesting");
            case 5: return ("\ufeff" + json, "byte order mark");
            case 6:
            {
                // A duplicate key: the second value is the one a last-wins parser keeps.
                int brace = json.IndexOf('{');
                return (json[..(brace + 1)] + "\"sample_size\": -5, " + json[(brace + 1)..], "duplicate key sample_size");
            }
            case 7:
            {
                var token = RawTokens[rng.Next(RawTokens.Length)];
                var numbers = System.Text.RegularExpressions.Regex.Matches(json, @"(?<=[:\[,]\s*)-?\d+(\.\d+)?([eE][+-]?\d+)?");
                if (numbers.Count == 0) return (json + token, $"append {token}");
                var m = numbers[rng.Next(numbers.Count)];
                return (json[..m.Index] + token + json[(m.Index + m.Length)..], $"number at {m.Index} -> {token}");
            }
            default: return (json + json, "two documents");
        }
    }

    private static JsonNode Replace(JsonNode root, JsonNode node, JsonNode? value)
    {
        switch (node.Parent)
        {
            case JsonObject o:
                o[node.GetPropertyName()] = value;
                return root;
            case JsonArray a:
                a[a.IndexOf(node)] = value;
                return root;
            default:
                return value ?? JsonValue.Create("null")!;
        }
    }

    private static void Collect(JsonNode? node, List<JsonNode> into)
    {
        if (node is null) return;
        into.Add(node);
        if (node is JsonObject o) foreach (var (_, v) in o.ToList()) Collect(v, into);
        if (node is JsonArray a) foreach (var v in a.ToList()) Collect(v, into);
    }

    /// <summary>Serializes, turning marked strings back into their raw tokens.</summary>
    public static string Serialize(JsonNode root)
    {
        var text = root.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        foreach (var token in RawTokens) text = text.Replace($"\"{RawMark}{token}\"", token, StringComparison.Ordinal);
        return text;
    }

    private static string Describe(JsonNode? value)
    {
        var s = value is null ? "null" : Serialize(value);
        return s.Length > 40 ? s[..40] + "…" : s;
    }
}
