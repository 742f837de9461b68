namespace DiffusionKernels.Runtime;

/// <summary>Per-sample reductions over all non-batch dimensions.</summary>
public enum Reduction
{
    Mean,
    /// <summary>Population standard deviation (divide by n).</summary>
    Std,
    MaxAbs,
    /// <summary>Count of NaN and ±Inf elements.</summary>
    NonFiniteCount,
}
