using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace DiffusionKernels.Tests.Reliability.Fuzz;

/// <summary>
/// Structural mutations of a safetensors file: its tensor entries' dtype, shape and data_offsets replaced by other
/// dtypes and boundary numbers, entries removed, duplicated or renamed (unicode included), <c>__metadata__</c> of the
/// wrong kind, the header-length prefix falsified, the file truncated or extended, the header's JSON damaged, and NaN or
/// Inf written into a weight.
/// </summary>
public sealed class SafetensorsMutator(Random rng)
{
    private static readonly string[] DTypes = ["F32", "F16", "BF16", "F64", "I64", "I32", "I8", "U8", "BOOL", "F8_E4M3", "C64", "f32", "", "F32 "];
    private static readonly long[] Numbers = [0, 1, -1, 2, 7, 8, 255, 65535, int.MaxValue, (long)int.MaxValue + 1, long.MaxValue, long.MinValue, 1L << 40];

    private readonly JsonMutator _json = new(rng);

    /// <summary>A mutant of the valid file <paramref name="file"/> and what was done to it.</summary>
    public (byte[] Bytes, string Description) Mutate(byte[] file)
    {
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = Encoding.UTF8.GetString(file, 8, (int)n);
        var data = file.AsSpan(8 + (int)n).ToArray();
        switch (rng.Next(12))
        {
            case 0 or 1 or 2 or 3: // one entry's fields
            {
                var root = JsonNode.Parse(header)!.AsObject();
                var names = root.Where(p => p.Key != "__metadata__").Select(p => p.Key).ToList();
                var name = names[rng.Next(names.Count)];
                var entry = root[name]!.AsObject();
                string what;
                switch (rng.Next(4))
                {
                    case 0:
                        var dtype = DTypes[rng.Next(DTypes.Length)];
                        entry["dtype"] = dtype;
                        what = $"'{name}'.dtype = {dtype}";
                        break;
                    case 1:
                    {
                        var shape = entry["shape"]!.AsArray();
                        int op = rng.Next(4);
                        if (op == 0 && shape.Count > 0) shape[rng.Next(shape.Count)] = Numbers[rng.Next(Numbers.Length)];
                        else if (op == 1) shape.Add(rng.Next(2) == 0 ? 1 : Numbers[rng.Next(Numbers.Length)]);
                        else if (op == 2 && shape.Count > 0) shape.RemoveAt(rng.Next(shape.Count));
                        else entry["shape"] = rng.Next(2) == 0 ? JsonValue.Create(3) : new JsonArray(1.5);
                        what = $"'{name}'.shape = {entry["shape"]!.ToJsonString()}";
                        break;
                    }
                    case 2:
                    {
                        var offsets = entry["data_offsets"]!.AsArray();
                        int i = rng.Next(2);
                        offsets[i] = rng.Next(3) == 0 ? (long)offsets[i]! + rng.Next(-9, 10) : Numbers[rng.Next(Numbers.Length)];
                        what = $"'{name}'.data_offsets = {offsets.ToJsonString()}";
                        break;
                    }
                    default:
                    {
                        var list = new List<string>();
                        _json.MutateNode(entry, list);
                        what = $"'{name}': {string.Join("; ", list)}";
                        break;
                    }
                }
                return (Assemble(JsonMutator.Serialize(root), data), what);
            }
            case 4: // entries removed, duplicated under a new name, renamed
            {
                var root = JsonNode.Parse(header)!.AsObject();
                var names = root.Where(p => p.Key != "__metadata__").Select(p => p.Key).ToList();
                var name = names[rng.Next(names.Count)];
                var entry = root[name]!;
                string what;
                switch (rng.Next(3))
                {
                    case 0: root.Remove(name); what = $"remove '{name}'"; break;
                    case 1: root[name + ".copy"] = entry.DeepClone(); what = $"duplicate '{name}'"; break;
                    default:
                        root.Remove(name);
                        var renamed = rng.Next(2) == 0 ? name.Replace("weight", "w\u00e9ight") : "\ud834\udd1e" + name;
                        root[renamed] = entry;
                        what = $"rename '{name}' to '{renamed}'";
                        break;
                }
                return (Assemble(JsonMutator.Serialize(root), data), what);
            }
            case 5: // metadata of the wrong kind
            {
                var root = JsonNode.Parse(header)!.AsObject();
                JsonNode? meta = rng.Next(4) switch { 0 => new JsonObject { ["format"] = 1 }, 1 => new JsonArray(), 2 => "pt", _ => new JsonObject { ["k"] = new JsonObject() } };
                root["__metadata__"] = meta;
                return (Assemble(JsonMutator.Serialize(root), data), $"__metadata__ = {meta?.ToJsonString() ?? "null"}");
            }
            case 6: // the header's JSON, generically
            {
                var (text, what) = _json.Mutate(header);
                return (Assemble(text, data), "header JSON: " + what);
            }
            case 7: // the length prefix lies
            {
                var bytes = (byte[])file.Clone();
                ulong[] lies = [0, 1, 7, n - 1, n + 1, n + 8, (ulong)file.Length, (ulong)file.Length - 8, ulong.MaxValue, 100_000_001, 1UL << 40];
                var lie = lies[rng.Next(lies.Length)];
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, lie);
                return (bytes, $"header length {lie} (true {n})");
            }
            case 8: // truncated
            {
                int at = rng.Next(rng.Next(3) == 0 ? 16 : file.Length);
                return (file[..at], $"truncate at {at} of {file.Length}");
            }
            case 9: // extended
            {
                int extra = rng.Next(1, 64);
                return ([.. file, .. new byte[extra]], $"append {extra} bytes");
            }
            case 10: // bit flips in the header
            {
                var bytes = (byte[])file.Clone();
                int flips = 1 + rng.Next(3);
                for (int i = 0; i < flips; i++) bytes[8 + rng.Next((int)n)] ^= (byte)(1 << rng.Next(8));
                return (bytes, $"flip {flips} header bits");
            }
            default: // a non-finite weight
            {
                var bytes = (byte[])file.Clone();
                var root = JsonNode.Parse(header)!.AsObject();
                var f32 = root.Where(p => p.Key != "__metadata__" && (string?)p.Value!["dtype"] == "F32").ToList();
                var (name, entry) = f32[rng.Next(f32.Count)];
                long begin = (long)entry!["data_offsets"]![0]!, end = (long)entry["data_offsets"]![1]!;
                long at = begin + 4 * rng.NextInt64((end - begin) / 4);
                float value = rng.Next(3) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity };
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(8 + (int)n + (int)at), value);
                return (bytes, $"'{name}' element {(at - begin) / 4} = {value}");
            }
        }
    }

    private static byte[] Assemble(string header, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        return bytes;
    }
}
