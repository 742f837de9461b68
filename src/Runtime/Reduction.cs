namespace DiffusionKernels.Runtime;

/// <summary>Per-sample reductions over all non-batch dimensions.</summary>
public enum Reduction
{
    /// <summary>The mean.</summary>
    Mean,
    /// <summary>Population standard deviation (divide by n).</summary>
    Std,
    /// <summary>The largest absolute value.</summary>
    MaxAbs,
    /// <summary>Count of NaN and ±Inf elements.</summary>
    NonFiniteCount,
}
