namespace DiffusionKernels.Runtime.IO;

/// <summary>bfloat16 (the upper 16 bits of an IEEE float32) conversions.</summary>
internal static class BFloat16
{
    /// <summary>float32 → bfloat16 bits, rounding to nearest, ties to even; NaN stays a (quiet) NaN of the same sign.</summary>
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        // Truncating a NaN could clear every mantissa bit and leave an infinity: force the quiet bit instead.
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)(rounded >> 16);
    }

    /// <summary>bfloat16 bits → float32 (exact).</summary>
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);
}
