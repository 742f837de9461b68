namespace DiffusionKernels.Runtime;

/// <summary>
/// How a backend's matrix products (GEMM and convolution) round their inputs. <see cref="Fp32"/>, the default, is
/// exact fp32 arithmetic everywhere. <see cref="Tf32"/> opts in to TF32 tensor cores on an <see cref="IlgpuBackend"/>:
/// inputs are rounded to a 10-bit mantissa (relative error ≤ 2⁻¹¹ per input) and products accumulate in fp32, so results
/// drift from fp32 by up to about 2⁻¹⁰ of the sum of |products| (PyTorch's default for convolutions on Ampere and
/// later). <see cref="Fp16"/> and <see cref="Bf16"/> opt in to 16-bit tensor cores: inputs rounded to fp16 (10-bit
/// mantissa, 5-bit exponent: ≤ 2⁻¹¹ relative, but values past 65504 become infinite) or bf16 (7-bit mantissa, fp32's
/// range: ≤ 2⁻⁸ relative), products accumulated in fp32. Every other op stays fp32 in every tier.
/// </summary>
public enum Precision
{
    /// <summary>fp32 inputs and accumulation: the exact tier, the default.</summary>
    Fp32,

    /// <summary>TF32 inputs (10-bit mantissa), fp32 accumulation, on tensor cores: opt-in, ILGPU backends only.</summary>
    Tf32,

    /// <summary>
    /// fp16 inputs (10-bit mantissa, largest finite 65504), fp32 accumulation, on tensor cores: opt-in, ILGPU backends only.
    /// An input past the fp16 range becomes ±Inf, so the result turns non-finite rather than silently wrong.
    /// </summary>
    Fp16,

    /// <summary>bf16 inputs (7-bit mantissa, fp32's exponent range), fp32 accumulation, on tensor cores: opt-in, ILGPU backends only.</summary>
    Bf16,
}

/// <summary>Names of <see cref="Precision"/> values, as options and configuration files spell them.</summary>
public static class Precisions
{
    /// <summary>The accepted names, for help texts.</summary>
    public const string Names = "fp32, tf32, fp16, bf16";

    /// <summary>Parses <c>fp32</c>, <c>tf32</c>, <c>fp16</c> or <c>bf16</c> (case-insensitive); anything else is an error naming the value.</summary>
    public static Precision Parse(string name) => (name ?? "").Trim().ToLowerInvariant() switch
    {
        "fp32" => Precision.Fp32,
        "tf32" => Precision.Tf32,
        "fp16" => Precision.Fp16,
        "bf16" => Precision.Bf16,
        _ => throw new ArgumentException($"unknown precision '{name}'; expected one of {Names}"),
    };

    /// <summary>The lower-case name of <paramref name="precision"/>.</summary>
    public static string Name(this Precision precision) => precision switch
    {
        Precision.Fp32 => "fp32",
        Precision.Tf32 => "tf32",
        Precision.Fp16 => "fp16",
        Precision.Bf16 => "bf16",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "unknown precision"),
    };
}
