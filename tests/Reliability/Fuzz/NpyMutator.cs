using System.Buffers.Binary;
using System.Text;

namespace DiffusionKernels.Tests.Reliability.Fuzz;

/// <summary>
/// Structural mutations of a .npy file: the header dict's descr (other dtypes, byte orders, structured and object
/// types), fortran_order and shape (huge, negative, zero, fractional, nested, unbalanced) replaced, keys removed,
/// repeated or added, the dict's syntax broken, unicode in it, the header-length field and version falsified, the
/// magic damaged, and the data truncated or extended.
/// </summary>
public sealed class NpyMutator(Random rng)
{
    private static readonly string[] Descrs =
        ["<f4", ">f4", "<f8", "<f2", "|b1", "|u1", "<i8", "<i4", ">i8", "=f4", "f4", "<c8", "<U4", "|O", "<M8[s]", "", "<f4'", "<f16", "|V8", "<f\u00e9"];

    private static readonly string[] Shapes =
        ["()", "(0,)", "(1,)", "(2,)", "(128,)", "(2, 1, 8, 8)", "(2, 1, 8, 9)", "(-1, 128)", "(2147483648,)", "(4294967296, 4294967296)",
         "(65536, 65536, 65536)", "(1.5,)", "(2 1 8 8)", "(2,, 8)", "((2,), 64)", "[2, 1, 8, 8]", "(128)", "(0, 0)", "(2, 1, 8, 8, 1, 1, 1, 1)", "(99999999999999999999,)"];

    /// <summary>A mutant of a valid version-1.0 file <paramref name="file"/> and what was done to it.</summary>
    public (byte[] Bytes, string Description) Mutate(byte[] file)
    {
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(8));
        var header = Encoding.Latin1.GetString(file, 10, headerLength).TrimEnd();
        var data = file.AsSpan(10 + headerLength).ToArray();
        switch (rng.Next(10))
        {
            case 0 or 1:
            {
                var d = Descrs[rng.Next(Descrs.Length)];
                return (Assemble(Replace(header, "'descr': '<f4'", $"'descr': '{d}'"), data), $"descr {d}");
            }
            case 2 or 3:
            {
                var s = Shapes[rng.Next(Shapes.Length)];
                return (Assemble(Replace(header, "'shape': (2, 1, 8, 8)", $"'shape': {s}"), data), $"shape {s}");
            }
            case 4:
            {
                var f = new[] { "True", "1", "None", "'False'", "false", "Tru" }[rng.Next(6)];
                return (Assemble(Replace(header, "'fortran_order': False", $"'fortran_order': {f}"), data), $"fortran_order {f}");
            }
            case 5: // keys
            {
                var variants = new[]
                {
                    header.Replace("'fortran_order': False, ", ""), header.Replace("'descr': '<f4', ", ""),
                    header.Replace("}", "'extra': 1, }"), header.Replace("{", "{'descr': '<f8', "), header.Replace("'shape'", "'sh\u00e4pe'"),
                    header.Replace("'descr'", "\"descr\""), header.Replace("{", "").Replace("}", ""), header.Replace("}", ""), "{}", "",
                    header + "x", header.Replace("'<f4'", "'<f4"), header.Replace(", }", "}"), header.Replace("'", ""),
                };
                int i = rng.Next(variants.Length);
                return (Assemble(variants[i], data), $"header variant {i}: {variants[i]}");
            }
            case 6: // header length field and version
            {
                var bytes = (byte[])file.Clone();
                if (rng.Next(2) == 0)
                {
                    ushort[] lies = [0, 1, (ushort)(headerLength - 1), (ushort)(headerLength + 1), (ushort)(headerLength + 64), ushort.MaxValue];
                    var lie = lies[rng.Next(lies.Length)];
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), lie);
                    return (bytes, $"header length {lie} (true {headerLength})");
                }
                (byte major, byte minor) = new (byte, byte)[] { (0, 0), (2, 0), (3, 0), (4, 0), (1, 1), (255, 255) }[rng.Next(6)];
                bytes[6] = major;
                bytes[7] = minor;
                return (bytes, $"version {major}.{minor}");
            }
            case 7: // magic
            {
                var bytes = (byte[])file.Clone();
                int at = rng.Next(6);
                bytes[at] ^= (byte)(1 << rng.Next(8));
                return (bytes, $"magic byte {at} flipped");
            }
            case 8: // data length
            {
                if (rng.Next(2) == 0)
                {
                    int at = rng.Next(file.Length);
                    return (file[..at], $"truncate at {at} of {file.Length}");
                }
                int extra = rng.Next(1, 9);
                return ([.. file, .. new byte[extra]], $"append {extra} bytes");
            }
            default: // bit flips anywhere in the header
            {
                var bytes = (byte[])file.Clone();
                int flips = 1 + rng.Next(3);
                for (int i = 0; i < flips; i++) bytes[10 + rng.Next(headerLength)] ^= (byte)(1 << rng.Next(8));
                return (bytes, $"flip {flips} header bits");
            }
        }
    }

    private static string Replace(string header, string from, string to) =>
        header.Contains(from, StringComparison.Ordinal) ? header.Replace(from, to, StringComparison.Ordinal) : throw new InvalidOperationException($"the base header lacks {from}: {header}");

    /// <summary>A version-1.0 file with <paramref name="dict"/> padded to numpy's 64-byte alignment (when it fits 1.0's length field).</summary>
    private static byte[] Assemble(string dict, byte[] data)
    {
        var text = dict + "\n";
        int total = (10 + text.Length + 63) / 64 * 64;
        text = dict.PadRight(total - 10 - 1) + "\n";
        var h = Encoding.Latin1.GetBytes(text);
        var bytes = new byte[10 + h.Length + data.Length];
        bytes[0] = 0x93;
        "NUMPY"u8.CopyTo(bytes.AsSpan(1));
        bytes[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)Math.Min(h.Length, ushort.MaxValue));
        h.CopyTo(bytes, 10);
        data.CopyTo(bytes, 10 + h.Length);
        return bytes;
    }
}
