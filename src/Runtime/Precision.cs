namespace DiffusionKernels.Runtime;

/// <summary>
/// How a backend's matrix products (GEMM and convolution) round their inputs. <see cref="Fp32"/>, the default, is
/// exact fp32 arithmetic everywhere. <see cref="Tf32"/> opts in to TF32 tensor cores on an <see cref="IlgpuBackend"/>:
/// inputs are rounded to a 10-bit mantissa (relative error ≤ 2⁻¹¹ per input) and products accumulate in fp32, so results
/// drift from fp32 by up to about 2⁻¹⁰ of the sum of |products| (PyTorch's default for convolutions on Ampere and
/// later). Every other op stays fp32 in both tiers.
/// </summary>
public enum Precision
{
    /// <summary>fp32 inputs and accumulation: the exact tier, the default.</summary>
    Fp32,

    /// <summary>TF32 inputs (10-bit mantissa), fp32 accumulation, on tensor cores: opt-in, ILGPU backends only.</summary>
    Tf32,
}

/// <summary>Names of <see cref="Precision"/> values, as options and configuration files spell them.</summary>
public static class Precisions
{
    /// <summary>The accepted names, for help texts.</summary>
    public const string Names = "fp32, tf32";

    /// <summary>Parses <c>fp32</c> or <c>tf32</c> (case-insensitive); anything else is an error naming the value.</summary>
    public static Precision Parse(string name) => (name ?? "").Trim().ToLowerInvariant() switch
    {
        "fp32" => Precision.Fp32,
        "tf32" => Precision.Tf32,
        _ => throw new ArgumentException($"unknown precision '{name}'; expected one of {Names}"),
    };

    /// <summary>The lower-case name of <paramref name="precision"/>.</summary>
    public static string Name(this Precision precision) => precision switch
    {
        Precision.Fp32 => "fp32",
        Precision.Tf32 => "tf32",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "unknown precision"),
    };
}
