namespace DiffusionKernels.Runtime.IO;

/// <summary>The dtype names the safetensors format defines, with their element sizes in bits.</summary>
internal static class SafetensorsDTypes
{
    // Every dtype of the reference implementation, so that a file holding e.g. an FP8 or BOOL tensor still opens
    // (and validates); only reading such a tensor fails.
    private static readonly Dictionary<string, int> Bits = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 8,
        ["F4"] = 4,
        ["F6_E2M3"] = 6,
        ["F6_E3M2"] = 6,
        ["U8"] = 8,
        ["I8"] = 8,
        ["F8_E5M2"] = 8,
        ["F8_E4M3"] = 8,
        ["F8_E8M0"] = 8,
        ["F8_E4M3FNUZ"] = 8,
        ["F8_E5M2FNUZ"] = 8,
        ["I16"] = 16,
        ["U16"] = 16,
        ["F16"] = 16,
        ["BF16"] = 16,
        ["I32"] = 32,
        ["U32"] = 32,
        ["F32"] = 32,
        ["C64"] = 64,
        ["F64"] = 64,
        ["I64"] = 64,
        ["U64"] = 64,
    };

    /// <summary>Element size in bits, or false for a name the format does not define.</summary>
    public static bool TryGetBits(string dtype, out int bits) => Bits.TryGetValue(dtype, out bits);

    /// <summary>Element size in bytes of a whole-byte dtype.</summary>
    public static int Bytes(string dtype) => Bits[dtype] / 8;
}
