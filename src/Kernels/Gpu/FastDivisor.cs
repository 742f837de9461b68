namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Division of a non-negative int by a divisor fixed at launch, as one widening multiply and a shift (Granlund and
/// Montgomery's method, as CUTLASS's FastDivmod does for its conv index decoding). The kernels need it because a
/// division by a runtime divisor costs tens of instructions on a GPU and ILGPU places a value's computation next to
/// its use, so a "decode once" before a K loop is redone inside it.
/// </summary>
internal readonly struct FastDivisor
{
    /// <summary>d.</summary>
    public readonly int Divisor;
    /// <summary>m = ⌈2^(31 + l) / d⌉ with 2^l ≥ d: below 2^32, and m·d exceeds 2^(31 + l) by less than 2^l.</summary>
    public readonly uint Multiplier;
    /// <summary>31 + l.</summary>
    public readonly int Shift;

    private FastDivisor(int divisor, uint multiplier, int shift)
    {
        Divisor = divisor;
        Multiplier = multiplier;
        Shift = shift;
    }

    /// <summary>The multiply-shift for dividing by <paramref name="divisor"/> (≥ 1).</summary>
    public static FastDivisor Of(int divisor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(divisor, 1);
        int l = 0;
        while (1L << l < divisor) l++;
        ulong power = 1UL << (31 + l);
        return new FastDivisor(divisor, (uint)((power + (ulong)divisor - 1) / (ulong)divisor), 31 + l);
    }

    /// <summary>
    /// ⌊n / d⌋ for 0 ≤ n &lt; 2^31: exact because m·d − 2^(31 + l) &lt; 2^l keeps n·m / 2^(31 + l) within
    /// n / d + n / (d·2^31) of n / d, too little to cross the next multiple of 1 / d.
    /// </summary>
    public int Divide(int n) => (int)((ulong)(uint)n * Multiplier >> Shift);
}
